// Bare node for the memory figures (bench/memory.ts): nothing but the benchmark's probe
// (bench/loop-probe.mjs, preloaded) and a timer that keeps the process alive.
setInterval(() => {}, 1 << 30);
