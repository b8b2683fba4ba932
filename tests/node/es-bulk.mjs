// Sends logs to logengine with the official Elasticsearch client: a few
// generated documents with client.bulk, then every line of a file with
// helpers.bulk. Prints one JSON line with what the client reported.
//
//   node es-bulk.mjs URL KEY FILE INDEX
import { Client } from '@elastic/elasticsearch'
import { readFileSync } from 'node:fs'

const [url, key, file, index] = process.argv.slice(2)
// An API key as Elasticsearch issues them: id and secret, sent as
// "ApiKey base64(id:secret)".
const client = new Client({ node: url, auth: { apiKey: { id: 'shipper', api_key: key } } })

const info = await client.info()
const generated = [
  { '@timestamp': '2026-11-20T10:00:00.123Z', log: { level: 'warn' }, service: { name: 'es-generated' }, message: 'generated event one from the elasticsearch client', host: { name: 'web-1' } },
  { '@timestamp': '2026-11-20T10:00:01.456Z', 'log.level': 'error', 'service.name': 'es-generated', message: 'generated event two from the elasticsearch client' },
  { '@timestamp': '2026-11-20T10:00:02.789Z', 'log.level': 'debug', 'service.name': 'es-generated', message: 'generated event three from the elasticsearch client' }
]
const bulk = await client.bulk({
  index: 'logs-generated',
  refresh: 'wait_for',
  operations: generated.flatMap(d => [{ create: {} }, d])
})
const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter(Boolean)
const dropped = []
const helpers = await client.helpers.bulk({
  datasource: lines.map(l => ({ '@timestamp': new Date().toISOString(), message: l })),
  onDocument () { return { index: { _index: index } } },
  onDrop (d) { dropped.push(d.error) },
  flushBytes: 20000,
  concurrency: 2,
  retries: 0
})
console.log(JSON.stringify({
  version: info.version.number,
  bulk: { errors: bulk.errors, items: bulk.items.length, status: bulk.items.map(i => i.create.status) },
  helpers,
  dropped: dropped.slice(0, 3)
}))
