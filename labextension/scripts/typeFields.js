/**
 * The fields of every exported interface in src/types/*.ts, as JSON on stdout:
 *   {"JobInfo": {"file": "jobs.ts", "fields": {"id": {"optional": false}, ...}}, ...}
 * Read with the TypeScript compiler's own parser (no regular expressions), for
 * tests/test_ts_types.py, which checks them against the served OpenAPI description.
 */
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

const folder = path.join(__dirname, '..', 'src', 'types');
const out = {};
for (const file of fs
  .readdirSync(folder)
  .filter(f => f.endsWith('.ts'))
  .sort()) {
  const text = fs.readFileSync(path.join(folder, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  source.forEachChild(node => {
    if (!ts.isInterfaceDeclaration(node)) {
      return;
    }
    const exported = (node.modifiers || []).some(m => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) {
      return;
    }
    const fields = {};
    for (const member of node.members) {
      if (ts.isPropertySignature(member) && member.name) {
        const name = ts.isStringLiteral(member.name)
          ? member.name.text
          : member.name.getText(source);
        fields[name] = { optional: !!member.questionToken };
      }
    }
    out[node.name.text] = {
      file,
      fields,
      extends: (node.heritageClauses || []).flatMap(h =>
        h.types.map(t => t.expression.getText(source))
      )
    };
  });
}
process.stdout.write(JSON.stringify(out, null, 1));
