// The globals the page's scripts share across their bundles: each bundle is a script of its
// own, so what one offers the others is a property of `window`.

interface Window {
  /** figures.js: draws Plotly charts */
  essayFigures: {
    ready(figure?: { data?: unknown[]; layout?: object }): Promise<unknown>;
    draw(container: Element): Promise<unknown>;
    drawAll(root?: ParentNode): Promise<unknown[]>;
    /** make the boxes that overflow their column tab stops (and those that fit, not) */
    scrollers(): void;
  };
  /** dist/editor.js, once loaded (page/editors.js loads it on the reader's first approach) */
  EssayEditor?: typeof import("./editor.js");
  /** page.js, for tests and the console */
  essayPage: {
    cells: import("./page/cell.js").Cell[];
    ensureKernel(): Promise<unknown>;
    loadEditor(): Promise<void>;
    run(index: number): Promise<void>;
    react(index: number): Promise<void>;
    stop(index: number): void;
    interruptible: boolean;
    evaluate(code: string): Promise<unknown>;
  };
  /** plotly.js, once figures.js loaded it */
  Plotly?: {
    react(root: Element, data: unknown[], layout: object, config: object): Promise<unknown>;
    purge(root: Element): void;
  };
}
