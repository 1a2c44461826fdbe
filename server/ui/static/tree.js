// A task list (an attempt's Tasks or a workflow's WorkflowTasks: id, fullName, parentId,
// upstreams) as a tree that grows as tasks are added; what the graph, the table and the timeline show.

export class TaskTree {
  constructor() {
    this.byId = new Map();
    this.byName = new Map();
    this.root = null;
    this.version = 0; // +1 for every change of shape (tasks added)
  }

  // Add new tasks and replace known ones; returns whether the shape changed.
  merge(tasks) {
    const added = [];
    for (const task of tasks) {
      const known = this.byId.get(task.id);
      if (known) {
        known.task = task;
      } else {
        const node = { id: task.id, task, children: [], parent: null, name: task.fullName, collapsed: null };
        this.byId.set(task.id, node);
        this.byName.set(task.fullName, node);
        added.push(node);
      }
    }
    for (const node of added) {
      const parent = node.task.parentId != null ? this.byId.get(String(node.task.parentId)) : null;
      if (parent) {
        node.parent = parent;
        node.name = node.task.fullName.startsWith(parent.task.fullName)
          ? node.task.fullName.slice(parent.task.fullName.length) : node.task.fullName;
        const kids = parent.children;
        let i = kids.length;
        while (i > 0 && Number(kids[i - 1].id) > Number(node.id)) i--;
        kids.splice(i, 0, node);
      } else if (!this.root || Number(node.id) < Number(this.root.id)) {
        this.root = node;
      }
    }
    if (added.length) this.version++;
    return added.length > 0;
  }

  get size() {
    return this.byId.size;
  }
}

// `_error` and `_check` handlers are drawn beside their task, not inside it.
export function isHandler(node) {
  return node.name === "^error" || node.name === "^check";
}

export function depthOf(node) {
  let depth = 0;
  for (let p = node.parent; p; p = p.parent) depth++;
  return depth;
}

// The task and its descendants, in pre-order; the children of `closed(node)` are left out.
export function preorder(root, closed = () => false) {
  const out = [];
  const stack = [[root, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop();
    out.push({ node, depth });
    if (node.children.length && !closed(node)) {
      for (let i = node.children.length - 1; i >= 0; i--) stack.push([node.children[i], depth + 1]);
    }
  }
  return out;
}

// Where an attempt's task is in time: [start, end] in epoch seconds (end null: still going).
// A group spans its children.
export function span(node, now) {
  const t = node.task;
  if (!node.children.length || t.startedAt) {
    const start = t.startedAt ? Date.parse(t.startedAt) / 1000 : null;
    const done = ["success", "error", "group_error", "canceled"].includes(t.state);
    const end = done && t.updatedAt ? Date.parse(t.updatedAt) / 1000 : start !== null ? now : null;
    if (!node.children.length || start !== null) return [start, end];
  }
  let start = null, end = null;
  for (const child of node.children) {
    const [s, e] = span(child, now);
    if (s !== null && (start === null || s < start)) start = s;
    if (e !== null && (end === null || e > end)) end = e;
  }
  return [start, end];
}
