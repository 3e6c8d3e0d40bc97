/** Workload 3's node: every node of the graph (LangGraph or Outlast step) does this. */
export interface GraphState {
  n: number;
  trail: string[];
}

export const graphNode = (s: GraphState, i: number): GraphState => ({
  n: s.n + 1,
  trail: [...s.trail, `node${i}`],
});
