// The reading of docker/build-push-action's `annotations:` and `labels:` inputs, for
// tests/integration/list_reader.rs: @actions/core's getInput (the whole input trimmed), then
// actions-toolkit's Util.getList with {ignoreComma: true} — csv-parse with the options it
// passes, each record's fields joined with `,`, empty items dropped, every item trimmed.
//
// stdin: {"lists": [TEXT, ...], "values": [VALUE, ...]}
// stdout: {"lists": [[ITEM, ...] or {"error": MESSAGE}, ...],
//          "kept": [whether VALUE survives a trim at its end, ...], "version": CSV_PARSE}
'use strict';
const fs = require('fs');
const path = require('path');
const { parse } = require('csv-parse/sync');

function getList(input) {
  const res = [];
  if (input == '') {
    return res;
  }
  const records = parse(input, {
    columns: false,
    relaxQuotes: true,
    comment: undefined,
    comment_no_infix: undefined,
    relaxColumnCount: true,
    skipEmptyLines: true,
    quote: undefined,
  });
  for (const record of records) {
    res.push(record.length == 1 ? record[0] : record.join(','));
  }
  return res.filter((item) => item).map((item) => item.trim());
}

const request = JSON.parse(fs.readFileSync(0, 'utf8'));
const lists = request.lists.map((text) => {
  try {
    return getList(text.trim());
  } catch (e) {
    return { error: String(e.message) };
  }
});
const kept = request.values.map((v) => v === v.trimEnd());
const version = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'node_modules', 'csv-parse', 'package.json'), 'utf8'),
).version;
process.stdout.write(JSON.stringify({ lists, kept, version }));
