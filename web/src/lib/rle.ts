/** COCO run-length encoding: the compressed string form (pycocotools' rleToString) decoded to
 * run lengths, and run lengths to a column-major mask. */

export function decodeCounts(text: string): number[] {
  const counts: number[] = [];
  let position = 0;
  while (position < text.length) {
    let value = 0;
    let shift = 0;
    let more = true;
    while (more) {
      if (position >= text.length) throw new Error("truncated RLE string");
      const c = text.charCodeAt(position) - 48;
      value |= (c & 0x1f) << (5 * shift);
      more = (c & 0x20) !== 0;
      position += 1;
      shift += 1;
      if (!more && (c & 0x10) !== 0) value |= -1 << (5 * shift);
    }
    if (counts.length > 2) value += counts[counts.length - 2];
    counts.push(value);
  }
  return counts;
}

/** A (height x width) mask, row-major, from column-major run lengths starting with zeros. */
export function maskFromCounts(counts: readonly number[], height: number, width: number): Uint8Array {
  const total = height * width;
  const mask = new Uint8Array(total);
  let index = 0;
  let value = 0;
  for (const run of counts) {
    const end = Math.min(total, index + run);
    if (value === 1) {
      for (let k = index; k < end; k += 1) {
        const column = Math.floor(k / height);
        const row = k - column * height;
        mask[row * width + column] = 1;
      }
    }
    index = end;
    value = 1 - value;
  }
  return mask;
}
