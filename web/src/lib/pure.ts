import { Component, h, type FunctionComponent } from "preact";

function shallowEqual(a: object, b: object): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length && keys.every((key) => Object.is(x[key], y[key]));
}

/** A component that renders again only when a prop changes (shallowly): the run page
 * re-renders on every slider step, its big tables and the gallery only when their data does.
 * (preact/compat's memo would do, but compat hooks every element the page creates.) */
export function pure<P extends object>(inner: FunctionComponent<P>): FunctionComponent<P> {
  class Pure extends Component<P> {
    shouldComponentUpdate(next: P): boolean {
      return !shallowEqual(this.props, next);
    }
    render(props: P) {
      return h(inner, props);
    }
  }
  return Pure as unknown as FunctionComponent<P>;
}
