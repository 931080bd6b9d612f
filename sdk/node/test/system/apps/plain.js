'use strict';
// A bare (req, res) handler, exported rather than listened: for plain Majordomo clients it
// upper-cases the body; GET /throw throws from the handler itself.
module.exports = (req, res) => {
  if (req.url === '/throw') throw new TypeError('a plain handler threw');
  const parts = [];
  req.on('data', (part) => parts.push(part));
  req.on('end', () => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ method: req.method, path: req.url,
      upper: Buffer.concat(parts).toString().toUpperCase() }));
  });
};
