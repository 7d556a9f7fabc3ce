// The launch benchmark's empty page: marks its first painted frame, as the
// app marks the frame that painted its first requests.
requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('first-frame-painted')));
