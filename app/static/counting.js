// Live character counts per network, for the answer composer.
//
// X counts weighted characters (twitter-text v3): most Latin, Greek, Cyrillic... count 1, other
// code points (CJK, for example) count 2, an emoji sequence counts 2, and every URL counts 23
// whatever its length. The server's split into a thread is authoritative; this is the live hint.

const X_LIMIT = 280;
const X_URL_LENGTH = 23;
const LIGHT_RANGES = [[0, 4351], [8192, 8205], [8208, 8223], [8242, 8247]];
const URL = /https?:\/\/[^\s]+/giu;
const EMOJI = /\p{Extended_Pictographic}/u;
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

function codePointWeight(cp) {
  return LIGHT_RANGES.some(([lo, hi]) => cp >= lo && cp <= hi) ? 1 : 2;
}

export function xLength(text) {
  let length = 0;
  const withoutUrls = text.replace(URL, () => { length += X_URL_LENGTH; return ""; });
  for (const { segment } of segmenter.segment(withoutUrls.normalize("NFC"))) {
    if (EMOJI.test(segment)) { length += 2; continue; }
    for (const char of segment) length += codePointWeight(char.codePointAt(0));
  }
  return length;
}

export function networkCounts(text) {
  const x = xLength(text);
  return [
    { network: "X", used: x, limit: X_LIMIT, posts: Math.max(1, Math.ceil(x / X_LIMIT)) },
    { network: "Tribune page", used: [...text].length, limit: 10000, posts: 1 },
  ];
}
