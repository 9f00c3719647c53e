"""Rigid-tool contact for the interactive co-rotational solver: constraints projected each step.

:class:`ContactSimulator` extends :class:`~sim.fem.interactive.CorotationalSimulator` with
per-node *filtered* constraints (Baraff & Witkin 1998, "modified PCG"): a node touching a tool
is held on the tool surface along the contact normal (frictionless, it slides) or in all three
directions (sticking friction). The tool has already moved to its new pose when a step starts;
every tissue node found inside it is projected back onto its surface *by the step itself*
(a prescribed velocity change), so after the step no constrained node is inside any tool.

The constraint force on each node is recovered exactly from the linearised step,
    g = ((M + h C + h^2 K) dv - rhs) / h,
which gives the contact force on the instrument (N), drives the active set (a node whose
reaction would pull the tissue towards the tool is released: contact only pushes) and the
Coulomb friction test (|g_t| > mu g_n: the node slips).

A tool thinner than the simulation mesh's spacing can slip between nodes without touching
one. With a *collision surface* (the fine visual surface embedded in the coarse mesh, SOFA's
mapped collision model), while such a tool holds no node every fine vertex inside it is
pushed out by a stiff penalty spring along the tool normal; its force reaches the nodes
through the embedding weights (J^T f) and its stiffness J^T k n n^T J enters the implicit
step, so it stays stable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from sim.fem.body import Body
from sim.fem.interactive import CorotationalSimulator, StepReport, pcg, warped_solve
from sim.fem.linsolve import factorize
from sim.interaction.tools import Instrument

CONTACT_MARGIN = 0.05  # mm: a node that was in contact stays a candidate this close outside
# Penalty stiffness of one collision-surface vertex, in units of E * edge length (N/mm): stiff
# enough to hold penetration to a fraction of a mm under a probe, soft enough that CG stays
# at a few iterations with the contact-free preconditioner.
SURFACE_PENALTY = 40.0


@dataclass
class CollisionSurface:
    """Fine vertices embedded in the simulation mesh: rest positions and interpolation J."""

    rest: np.ndarray  # (k, 3) mm
    matrix: sp.csr_matrix  # (k, n_nodes)


@dataclass
class ToolContact:
    """The contact state of one instrument: active nodes, their normals and forces."""

    nodes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    normals: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    stick: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    anchors: dict[int, np.ndarray] = field(default_factory=dict)  # tool-local sticking points
    released: set[int] = field(default_factory=set)
    force: np.ndarray = field(default_factory=lambda: np.zeros(3))  # N, on the instrument
    surface_points: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    surface_force: np.ndarray = field(default_factory=lambda: np.zeros(3))  # N, penalty part
    surface_gap: np.ndarray = field(default_factory=lambda: np.zeros(0))
    surface_normals: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))


class ContactSimulator(CorotationalSimulator):
    """Co-rotational dynamics with rigid instruments, grab springs and exact constraint forces."""

    def __init__(self, body: Body, fixed_nodes: np.ndarray,
                 instruments: list[Instrument] | None = None, friction: float = 0.0,
                 contact_nodes: np.ndarray | None = None, threads: int = 1,
                 collision_surface: CollisionSurface | None = None, **kwargs) -> None:
        # Steps here use their own preconditioner (with the grab springs), and recorded
        # sessions must replay exactly: no background refactoring of the engine's factor.
        kwargs.setdefault("background_refactor", False)
        super().__init__(body, fixed_nodes, **kwargs)
        self.surface = collision_surface
        if collision_surface is not None:
            edge = float(np.cbrt(np.abs(body.mesh.volumes).mean() * 6 * np.sqrt(2)))
            self.surface_k = SURFACE_PENALTY * body.material.youngs_modulus * edge
        # numba threads: one leaves a core to the renderer, and parallel kernels collapse
        # (10x slower) when the machine is oversubscribed.
        self.threads = int(threads)
        self.instruments: list[Instrument] = list(instruments or [])
        self.friction = float(friction)
        nodes = body.mesh.boundary_nodes if contact_nodes is None else np.asarray(contact_nodes)
        self.contact_nodes = np.asarray(nodes, dtype=np.int64)
        self.contacts: dict[str, ToolContact] = {}
        self.reaction = np.zeros_like(self.x)  # constraint force on every node (N)
        self._keep = (~self.fixed).astype(float)
        self._extra_diagonal: np.ndarray | None = None
        self._make_preconditioner()

    # -- own operators (kept here so engine refactors of private helpers do not break us) ----
    def _make_preconditioner(self, extra_diagonal: np.ndarray | None = None) -> None:
        h, a, b = self.h, self.alpha, self.beta
        M = sp.diags(self.mass.ravel())
        P = (1 + h * a) * M + (h * h + h * b) * self.body.linear_stiffness()
        if extra_diagonal is not None:
            P = P + sp.diags(h * h * np.asarray(extra_diagonal, dtype=float).ravel())
        self._pc_free = np.flatnonzero(~self.fixed.ravel())
        self._pc_solve = factorize(sp.csc_matrix(P[self._pc_free][:, self._pc_free]))

    def set_time_step(self, dt: float) -> None:
        super().set_time_step(dt)
        self._make_preconditioner(self._extra_diagonal)

    def set_spring_diagonal(self, diagonal: np.ndarray | None) -> None:
        """Stiff springs (a grab) in the preconditioner: without them CG needs 3-4 times
        the iterations. Refactoring costs about one step and happens on grab/release only."""
        self._extra_diagonal = diagonal
        self._make_preconditioner(diagonal)

    def _kmul(self, v: np.ndarray, forces: bool) -> np.ndarray:
        """R K (R^T v - X) (elastic forces) or R K R^T v (products), through the engine."""
        if hasattr(self, "rest"):  # engines with stored element matrices and rest vectors
            return self._k_apply(v, self.rest if forces else self.zero_rest)
        return self._k_apply(v, forces)

    def _pc(self, r: np.ndarray) -> np.ndarray:
        """Warped rest-matrix Cholesky: z = W P^-1 W^T r."""
        return warped_solve(self.W, r, self._pc_free, self._pc_solve)

    # -- contact detection ---------------------------------------------------------------------
    @staticmethod
    def _distances(tool: Instrument, pts: np.ndarray,
                   normals_within: float) -> tuple[np.ndarray, np.ndarray]:
        """tool.signed_distance, evaluated only inside the tool's bounding sphere (+inf and
        no normal elsewhere): most of a surface is nowhere near a tool."""
        centre, radius = tool.bounding_sphere()
        rel = pts - centre
        near = np.flatnonzero(np.einsum("ij,ij->i", rel, rel) < (radius + CONTACT_MARGIN) ** 2)
        d = np.full(len(pts), np.inf)
        n = np.zeros_like(pts)
        if len(near):
            d[near], n[near] = tool.signed_distance(pts[near], normals_within)
        return d, n

    def _detect(self, claimed: np.ndarray) -> list[tuple[Instrument, ToolContact, np.ndarray]]:
        """Active contacts of every tool at the start of a step: (tool, state, targets)."""
        out = []
        for tool in self.instruments:
            state = self.contacts.setdefault(tool.name, ToolContact())
            cand = self.contact_nodes[~claimed[self.contact_nodes]]
            if len(cand) == 0:
                state.nodes = np.zeros(0, dtype=np.int64)
                continue
            d, n = self._distances(tool, self.x[cand], CONTACT_MARGIN)
            was = np.isin(cand, state.nodes)
            released = np.fromiter(state.released, dtype=np.int64, count=len(state.released))
            was &= ~np.isin(cand, released)
            active = (d < 0.0) | (was & (d < CONTACT_MARGIN))
            nodes, d, n = cand[active], d[active], n[active]
            targets = self.x[nodes] - d[:, None] * n
            stick = np.zeros(len(nodes), dtype=bool)
            if self.friction > 0:
                anchors = {}
                for i, node in enumerate(nodes.tolist()):
                    a = state.anchors.get(node)
                    if a is None or node in state.released:
                        a = tool.to_local(targets[i:i + 1])[0]
                    else:
                        stick[i] = True
                        targets[i] = tool.to_world(a[None])[0]
                    anchors[node] = a
                state.anchors = anchors
            state.nodes, state.normals, state.stick = nodes, n, stick
            state.released = set()
            claimed[nodes] = True
            out.append((tool, state, targets))
        return out

    # -- the filtered system -------------------------------------------------------------------
    def _apply(self, p: np.ndarray, Kc: sp.spmatrix | None) -> np.ndarray:
        h = self.h
        y = (1 + h * self.alpha) * self.mass * p + (h * h + h * self.beta) * self._kmul(p, False)
        if Kc is not None:
            y += h * h * (Kc @ p.ravel()).reshape(-1, 3)
        return y

    def _filter(self, y: np.ndarray, keep: np.ndarray, slide: np.ndarray,
                normals: np.ndarray) -> np.ndarray:
        y *= keep
        if len(slide):
            ys = y[slide]
            y[slide] = ys - normals * np.einsum("ij,ij->i", normals, ys)[:, None]
        return y

    def _step(self) -> StepReport:
        t0 = time.perf_counter()
        h = self.h
        inverted = self._rotations()
        u = (self.x - self.X).ravel()
        f = self.fext - self._kmul(self.x, True)
        Kc = None
        for c in self.contributors:
            f += c.force(u).reshape(-1, 3)
            k = c.stiffness(u)
            if k is not None:
                Kc = k if Kc is None else Kc + k
        if self.surface is not None:
            fs, ks = self._surface_contact()
            if ks is not None:
                f += fs.reshape(-1, 3)
                Kc = ks if Kc is None else Kc + ks
        Kv = self._kmul(self.v, False)
        b = h * (f - self.alpha * self.mass * self.v - (self.beta + h) * Kv)
        if Kc is not None:  # the contributors are implicit too: f_c(x + h v_new)
            b -= h * h * (Kc @ self.v.ravel()).reshape(-1, 3)

        keep = self._keep.copy()
        dv_c = np.zeros_like(self.v)
        dv_c[self.fixed] = -self.v[self.fixed]
        claimed = self.fixed.any(axis=1)
        for node, target in self.targets.items():
            keep[node] = 0.0
            dv_c[node] = (target - self.x[node]) / h - self.v[node]
            claimed[node] = True
        contacts = self._detect(claimed)
        slide_nodes, slide_normals = [], []
        for _tool, state, targets in contacts:
            nodes, n, st = state.nodes, state.normals, state.stick
            want = (targets - self.x[nodes]) / h - self.v[nodes]  # velocity change to the target
            sticky = nodes[st]
            keep[sticky] = 0.0
            dv_c[sticky] = want[st]
            sl = ~st
            dv_c[nodes[sl]] = n[sl] * np.einsum("ij,ij->i", n[sl], want[sl])[:, None]
            slide_nodes.append(nodes[sl])
            slide_normals.append(n[sl])
        slide = np.concatenate(slide_nodes) if slide_nodes else np.zeros(0, dtype=np.int64)
        normals = np.concatenate(slide_normals) if slide_normals else np.zeros((0, 3))
        moving = keep.min(axis=1) < 1.0
        self.W[moving] = np.eye(3)
        self.W[slide] = np.eye(3)

        def A(p):
            return self._apply(p, Kc)

        def filt(y):
            return self._filter(y, keep, slide, normals)

        rhs = filt(b - A(dv_c)) if dv_c.any() else filt(b.copy())
        dv, iters, rel = pcg(lambda p: filt(A(p)), lambda r: filt(self._pc(r)), rhs,
                             filt(self._dv.copy()), self.tol, self.max_iter)
        self._dv = dv.copy()
        dv += dv_c
        self.reaction = (A(dv) - b) / h
        x_before = self.x
        self.v = self.v + dv
        self.x = self.x + h * self.v
        self._surface_forces(x_before)
        self._update_active_set(contacts)
        self._project_out()
        return StepReport(iters, rel, int(inverted), time.perf_counter() - t0)

    def _surface_contact(self) -> tuple[np.ndarray, sp.spmatrix | None]:
        """Penalty forces (n, 3) and stiffness of collision-surface vertices against the tools.

        A vertex is active when it is inside a tool, or was active last step and is still
        within ``CONTACT_MARGIN`` of it (without that hysteresis a vertex pushed just outside
        loses its spring, springs back in, and the contact chatters). It is the thin-tool
        fallback: a tool that holds any node through the exact constraints is left to them
        (a wide tool gets no second, penalty, force on the same patch)."""
        J = self.surface.matrix
        pts = self.surface.rest + J @ (self.x - self.X)
        f = np.zeros_like(self.x)
        K = None
        k = self.surface_k
        for tool in self.instruments:
            state = self.contacts.setdefault(tool.name, ToolContact())
            if len(state.nodes):  # the tool holds nodes: node contact carries it alone
                state.surface_points = np.zeros(0, dtype=np.int64)
                continue
            d, n = self._distances(tool, pts, CONTACT_MARGIN)
            was = np.zeros(len(d), dtype=bool)
            was[state.surface_points] = True
            active = np.flatnonzero((d < 0.0) | (was & (d < CONTACT_MARGIN)))
            state.surface_points = active
            state.surface_gap, state.surface_normals = d[active], n[active]
            if len(active) == 0:
                continue
            Ji, ni = J[active], n[active]
            f += Ji.T @ (k * (-d[active])[:, None] * ni)  # on the vertices, out of the tool
            # J^T (k n n^T) J on the (3n, 3n) node-major dofs: one (n, n) block per component pair.
            Kt = None
            for a in range(3):
                for b in range(3):
                    E = sp.csr_matrix(([1.0], ([a], [b])), shape=(3, 3))
                    block = sp.kron(Ji.T @ sp.diags(k * ni[:, a] * ni[:, b]) @ Ji, E)
                    Kt = block if Kt is None else Kt + block
            K = Kt.tocsr() if K is None else K + Kt.tocsr()
        return f.ravel(), K

    def _surface_forces(self, x_before: np.ndarray) -> None:
        """After a step: each active vertex's spring force at the new positions (linear in the
        motion). A vertex that ended the step pulled (outside the tool) is released; the rest
        push on the tool."""
        if self.surface is None:
            return
        dx = self.surface.matrix @ (self.x - x_before)
        for state in self.contacts.values():
            idx = state.surface_points
            if len(idx) == 0:
                state.surface_force = np.zeros(3)
                continue
            n = state.surface_normals
            gap = state.surface_gap + np.einsum("ij,ij->i", n, dx[idx])
            push = gap < 0.0
            state.surface_points = idx[push]
            state.surface_force = (self.surface_k * gap[push])[:, None] * n[push]
            state.surface_force = state.surface_force.sum(axis=0)  # on the tool (N)

    def _update_active_set(self, contacts) -> None:
        """Contact forces on the tools; release adhesive nodes, let over-loaded sticks slip."""
        seen = set()
        for tool, state, _targets in contacts:
            seen.add(tool.name)
            if len(state.nodes) == 0:
                state.force = state.surface_force.copy()
                continue
            g = self.reaction[state.nodes]
            gn = np.einsum("ij,ij->i", g, state.normals)
            g_eff = np.where(state.stick[:, None], g, gn[:, None] * state.normals)
            state.force = -g_eff.sum(axis=0) + state.surface_force
            pull = gn < 0.0
            state.released = set(state.nodes[pull].tolist())
            if self.friction > 0:
                gt = np.linalg.norm(g - gn[:, None] * state.normals, axis=1)
                slip = state.stick & (gt > self.friction * np.maximum(gn, 0.0))
                for node in state.nodes[slip].tolist():
                    state.anchors.pop(node, None)  # re-anchored where it is next step
        for name, state in self.contacts.items():
            if name not in seen:
                state.force = state.surface_force.copy()
                state.nodes = np.zeros(0, dtype=np.int64)

    def _project_out(self) -> None:
        """Nodes that entered a tool during the step (free nodes, or ones just released) are
        put back on its surface and lose the penetrating velocity: none ends a step inside.
        They join the active set, with their exact reaction, on the next step."""
        free = self.contact_nodes[~self.fixed[self.contact_nodes].any(axis=1)]
        if self.targets:
            free = free[~np.isin(free, np.fromiter(self.targets, dtype=np.int64))]
        for tool in self.instruments:
            d, n = self._distances(tool, self.x[free], 0.0)
            inside = d < 0.0
            if inside.any():
                nodes = free[inside]
                push = -d[inside, None] * n[inside]
                self.x[nodes] += push
                self.v[nodes] += push / self.h

    # -- queries -------------------------------------------------------------------------------
    def contact_force(self, name: str) -> np.ndarray:
        """Force (N) the tissue exerts on instrument ``name`` after the last step."""
        state = self.contacts.get(name)
        return np.zeros(3) if state is None else state.force.copy()

    def penetration(self) -> float:
        """Deepest penetration (mm, >= 0) of any contact node into any instrument now."""
        deepest = 0.0
        for tool in self.instruments:
            d, _ = tool.signed_distance(self.x[self.contact_nodes], -np.inf)
            deepest = max(deepest, float(-d.min(initial=0.0)))
        return deepest

    def reset_state(self) -> None:
        self.x = self.X.copy()
        self.v = np.zeros_like(self.x)
        self._dv = np.zeros_like(self.x)
        self.R[:] = np.eye(3)
        self.W[:] = np.eye(3)
        self.contacts.clear()
        self.targets.clear()
        self.reaction = np.zeros_like(self.x)
