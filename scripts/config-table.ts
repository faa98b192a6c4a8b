/**
 * Rewrites the README's configuration table from the settings table in src/config.ts (between
 * the `config-table` markers). `npm run docs:config`; test/config.test.ts fails while they differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configTable } from '../src/config.ts';

export const README = path.resolve(import.meta.dirname, '../README.md');
export const BEGIN = '<!-- config-table:begin (npm run docs:config writes this table from src/config.ts) -->';
export const END = '<!-- config-table:end -->';

/** `readme` with the text between the markers replaced by `table`. */
export function withTable(readme: string, table: string): string {
  const from = readme.indexOf(BEGIN), to = readme.indexOf(END);
  if (from < 0 || to < from) throw new Error(`README.md lacks the markers ${BEGIN} … ${END}`);
  return `${readme.slice(0, from + BEGIN.length)}\n${table}\n${readme.slice(to)}`;
}

if (process.argv[1] === import.meta.filename) {
  const before = readFileSync(README, 'utf8');
  const after = withTable(before, configTable());
  if (after !== before) writeFileSync(README, after);
  console.log(after === before ? 'README.md: configuration table up to date' : 'README.md: configuration table rewritten');
}
