/** The IoU grid the server evaluates by default (0.05 to 0.95 in steps of 0.05). */
export const IOU_MIN = 0.05;
export const IOU_MAX = 0.95;
export const IOU_STEP = 0.05;

/** A value snapped to the 0.05 grid and clamped to [0.05, 0.95], rounded to two decimals so
 * 0.75 is sent as 0.75 (not 0.7500000000000001). */
export function snapIou(value: number): number {
  if (!Number.isFinite(value)) return 0.5;
  const steps = Math.round(value / IOU_STEP);
  const snapped = Math.min(IOU_MAX, Math.max(IOU_MIN, steps * IOU_STEP));
  return Math.round(snapped * 100) / 100;
}

/** A confidence threshold clamped to [0, 1], rounded to two decimals. */
export function clampConfidence(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.round(Math.min(1, Math.max(0, value)) * 100) / 100;
}
