#!/usr/bin/awk -f
# Per-kernel GPU time from `ncu --metrics gpu__time_duration.sum --print-summary per-kernel`:
# one line per kernel function (launch shapes merged), total time = average x invocations summed,
# largest first, after a line "kernels: K kinds, total T ms".
/, Device [0-9]+, CC [0-9.]+, Invocations [0-9]+/ {
    name = $0
    sub(/^ +/, "", name)
    sub(/^void /, "", name)
    sub(/\(.*/, "", name)          # the parameter list and launch shape
    inv = $NF
    next
}
name != "" && $1 == "gpu__time_duration.sum" {
    f = ($2 ~ /^m/) ? 1000 : ($2 ~ /^n/) ? 0.001 : ($2 == "s" || $2 == "second") ? 1e6 : 1   # us/usecond: 1
    us[name] += $5 * f * inv
    n[name] += inv
    total += $5 * f * inv
    name = ""
}
END {
    k = 0
    for (x in us) k++
    printf "kernels: %d kinds, %d launches, total %.2f ms\n", k, tot_launches(), total / 1000
    cmd = "sort -t'\t' -k1,1gr"
    for (x in us) printf "%.3f\t%8.3f ms %6dx  %s\n", us[x] / 1000, us[x] / 1000, n[x], x | cmd
    close(cmd)
}
function tot_launches(   s, x) { for (x in n) s += n[x]; return s }
