const express = require('express');
const app = express();

const doSomeWork = duration => {
  const start = Date.now();
  while (Date.now() - start < duration) {}
};

app.get('/fast', (req, res) => {
  res.send('Fast route');
});

app.get('/slow', (req, res) => {
  doSomeWork(5000);
  res.send('Fast route');
});

app.listen(8000);
