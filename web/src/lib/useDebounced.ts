import { useEffect, useState } from "preact/hooks";

/** `value`, once it has stayed the same for `delay` ms: the gallery follows a moving slider
 * only when it rests, so the numbers' requests do not queue behind the gallery's. */
export function useDebounced<T>(value: T, delay: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}
