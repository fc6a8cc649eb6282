# forces.awk: forces.c's computation in awk, for a node without a C compiler (slower,
# one thread, the same numbers):  awk -v n=200 -v steps=5 -v seed=1 -f forces.awk
function uniform() {
    state = (16807.0 * state) % 2147483647.0
    return state / 2147483647.0
}
BEGIN {
    if (n < 2 || steps < 1 || seed < 1) {
        print "forces.awk: needs n >= 2, steps >= 1, seed >= 1" > "/dev/stderr"
        exit 3
    }
    state = seed
    for (i = 0; i < 3 * n; i++) x[i] = uniform()
    for (s = 0; s < steps; s++) {
        energy = 0
        for (i = 0; i < n; i++) {
            fx = fy = fz = e = 0
            for (j = 0; j < n; j++) {
                if (j == i) continue
                dx = x[3*i] - x[3*j]; dy = x[3*i+1] - x[3*j+1]; dz = x[3*i+2] - x[3*j+2]
                inv = 1 / sqrt(dx*dx + dy*dy + dz*dz + 0.01)
                e += inv
                fx += dx * inv * inv * inv; fy += dy * inv * inv * inv; fz += dz * inv * inv * inv
            }
            f[3*i] = fx; f[3*i+1] = fy; f[3*i+2] = fz
            energy += 0.5 * e
        }
        for (i = 0; i < 3 * n; i++) x[i] += 1e-6 * f[i]
        printf "%d %.10e\n", s, energy > "forces.stat"
    }
    printf "threads 1 energy %.10e\n", energy
}
