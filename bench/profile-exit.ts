/**
 * Preloaded (`node -r`) into a worker started with --cpu-prof. main.ts handles SIGTERM by closing the app and
 * then raising SIGTERM again for the default action, which kills the process before V8 writes its profile. This
 * listener does nothing on the first signal (main.ts's handler runs) and turns the second into a normal exit,
 * which does write it.
 */
let signals = 0;
process.on('SIGTERM', () => {
  signals++;
  if (signals > 1) process.exit(143);
});
