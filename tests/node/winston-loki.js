// Sends logs to logengine through winston-loki, Loki's push API client for
// winston: every line of a file, then a few generated events with their own
// timestamps and levels.
//
//   node winston-loki.js URL KEY FILE SOURCE json|protobuf
const winston = require('winston')
const LokiTransport = require('winston-loki')
const { readFileSync } = require('node:fs')

const [url, key, file, source, mode] = process.argv.slice(2)
let failed = false
const transport = new LokiTransport({
  host: url,
  json: mode === 'json',
  basicAuth: 'shipper:' + key,
  batching: true,
  interval: 0.5,
  labels: { source, job: 'e2e' },
  // Keep the timestamps the events carry (winston-loki stamps every entry
  // with the time of sending unless told not to).
  replaceTimestamp: false,
  // The line is the message alone (by default winston-loki appends the
  // remaining metadata as JSON).
  format: winston.format.printf(i => i.message),
  onConnectionError: e => { failed = true; console.error('loki connection error:', e && e.message) }
})
const logger = winston.createLogger({ level: 'debug', transports: [transport] })

const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter(Boolean)
for (const l of lines) logger.info(l)
const generated = [
  { level: 'warn', message: `synthetic event one from winston ${mode}`, timestamp: '2026-11-20T10:00:00.123Z' },
  { level: 'error', message: `synthetic event two from winston ${mode}`, timestamp: '2026-11-20T10:00:01.456Z' },
  { level: 'debug', message: `synthetic event three from winston ${mode}`, timestamp: '2026-11-20T10:00:02.789Z' }
]
for (const g of generated) logger.log({ ...g, labels: { source: source + '-gen' } })

transport.flush().then(() => {
  console.log(JSON.stringify({ sent: lines.length + generated.length, failed }))
  process.exit(failed ? 1 : 0)
}, e => {
  console.error('flush failed:', e && e.message)
  process.exit(1)
})
