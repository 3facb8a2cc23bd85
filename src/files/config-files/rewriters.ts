import { rewriteIni } from './ini-rewriter.js';
import { rewriteJson } from './json-rewriter.js';
import { rewriteProperties } from './properties-rewriter.js';
import type { ConfigParser, Rewriter } from './rules.js';
import { rewriteText } from './text-rewriter.js';
import { rewriteToml } from './toml-rewriter.js';
import { rewriteXml } from './xml-rewriter.js';
import { rewriteYaml } from './yaml-rewriter.js';

/** One rewriter per parser name of an egg's `config.files`; each loads its library on first use. */
export const REWRITERS: Readonly<Record<ConfigParser, Rewriter>> = {
  properties: rewriteProperties,
  ini: rewriteIni,
  json: rewriteJson,
  yaml: rewriteYaml,
  yml: rewriteYaml,
  xml: rewriteXml,
  toml: rewriteToml,
  file: rewriteText,
};
