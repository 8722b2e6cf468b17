# Chart for bench/compare.sh. Variables: term, out, cpu, rss, ncpu, nrss
# (data rows in each file), subtitle.
#   left:  server CPU per unit of work, relative to Node (Node = 1, lower is better)
#   right: RSS per idle connection in KiB (lower is better)
if (term eq 'pngcairo') {
  set terminal pngcairo size 1400,620 font "DejaVu Sans,10" noenhanced
} else {
  set terminal png size 1400,620 noenhanced
}
set output out
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics rotate by -25 scale 0
set yrange [0:*]
set offsets graph 0, graph 0, graph 0.08, graph 0
panels = (ncpu > 0) + (nrss > 0)
set multiplot layout 1,panels title "rollcall vs Node socket.io 4.8 vs kernel floor (" . subtitle . ")"

if (ncpu > 0) {
set title "server CPU per unit of work, Node = 1 (lower is better)"
set ylabel "relative CPU"
plot cpu using 2:xtic(1) title "node" lc rgb "#8c8c8c", \
     '' using 3 title "floor" lc rgb "#4c72b0", \
     '' using 4 title "rollcall" lc rgb "#dd8452"
}

if (nrss > 0) {
set title "RSS per idle connection (lower is better)"
set ylabel "KiB"
plot rss using 2:xtic(1) title "node" lc rgb "#8c8c8c", \
     '' using 3 title "floor" lc rgb "#4c72b0", \
     '' using 4 title "rollcall" lc rgb "#dd8452"
}
unset multiplot
