"""The physics processes of the embedded default data set, as Pythia 8 settings.

Each :class:`Process` is a named list of Pythia ``readString`` settings plus its role
(SM background with a process label, zero bias, or signal). Common settings (beam energy, quiet
output, seeding) are added by :mod:`wnae.data.generate.pythia`; multiparton interactions and
hadronisation stay on (Pythia's defaults), so the underlying event, MET and jets are realistic.

Signals follow the public ADC2021 benchmark (arXiv:2107.02157): A→4ℓ (m = 50 GeV), LQ→bτ
(m = 80 GeV), h⁰→ττ and h±→τν (m = 60 GeV); plus a 1 TeV Z′→ℓℓ, and for the particle-level (HLT)
study vector-boson-fusion H→ττ and emerging jets (Schwaller, Stolarski, Weiler, arXiv:1502.05409;
the CMS search EXO-18-001): Pythia's Hidden Valley with dark QCD (N_c = 3, 7 flavours, Λ = 10 GeV),
a 1 TeV bifundamental mediator X_d pair-produced and decaying to a dark quark and a d quark, and dark
pions (5 GeV) decaying to d d̄ with cτ = 25 mm, so their tracks are displaced. ``diboson`` (WW, WZ,
ZZ) is an SM process outside the training cocktail (role ``unseen_sm``).
"""

from __future__ import annotations

from dataclasses import dataclass

from wnae.data.samples import SM_PROCESSES, SampleRole

__all__ = ["PROCESSES", "Process", "get_process", "qcd_slice", "slice_name"]

#: Z/γ*, W decays to e, μ, τ.
_Z_TO_LEPTONS = ("23:onMode = off", "23:onIfAny = 11 13 15")
_W_TO_LEPTONS = ("24:onMode = off", "24:onIfAny = 11 13 15")
#: Emerging jets (the CMS EXO-18-001 model, checked with Pythia 8.317): X_d pair production, X_d → d Q_d,
#: dark showers and hadronisation, dark pions → d d̄ (hadronised) with cτ = 25 mm, dark ρ → π_d π_d.
#: ``setLambda = on`` is needed since 8.309 for ``Lambda`` to count; the off-diagonal dark pions
#: (4900211) decay only through their ``oneChannel``.
_EMERGING_JETS = (
    "HiddenValley:gg2DvDvbar = on",
    "HiddenValley:qqbar2DvDvbar = on",
    "HiddenValley:spinFv = 0",
    "4900001:m0 = 1000.",
    "4900001:mWidth = 10.",
    "4900001:oneChannel = 1 1.0 103 1 4900101",
    "HiddenValley:Ngauge = 3",
    "HiddenValley:nFlav = 7",
    "HiddenValley:FSR = on",
    "HiddenValley:fragment = on",
    "HiddenValley:alphaOrder = 1",
    "HiddenValley:setLambda = on",
    "HiddenValley:Lambda = 10.",
    "HiddenValley:pTminFSR = 11.",
    "4900101:m0 = 10.",
    "4900111:m0 = 5.",
    "4900211:m0 = 5.",
    "4900113:m0 = 20.",
    "4900213:m0 = 20.",
    "4900111:tau0 = 25.",
    "4900211:tau0 = 25.",
    "4900111:oneChannel = 1 1.0 91 1 -1",
    "4900211:oneChannel = 1 1.0 91 1 -1",
    "4900113:oneChannel = 1 1.0 0 4900111 4900111",
    "4900213:oneChannel = 1 1.0 0 4900211 4900211",
)


@dataclass(frozen=True)
class Process:
    """A sample's physics process.

    Attributes:
        name: sample name (file ``<name>.h5``).
        role: background, zero_bias or signal.
        description: one line for humans, with the physics.
        settings: Pythia ``readString`` lines specific to the process.
        process_label: SM label (:data:`~wnae.data.samples.SM_PROCESSES`), −1 otherwise.
    """

    name: str
    role: SampleRole
    description: str
    settings: tuple[str, ...]
    process_label: int = -1


def _label(name: str) -> int:
    return {v: k for k, v in SM_PROCESSES.items()}[name]


PROCESSES: dict[str, Process] = {
    p.name: p
    for p in (
        # ------------------------------------------------------------------ SM background cocktail
        Process(
            "dy",
            SampleRole.BACKGROUND,
            "Drell-Yan Z/gamma* -> ll (l = e, mu, tau), m(ll) > 40 GeV",
            ("WeakSingleBoson:ffbar2gmZ = on", "PhaseSpace:mHatMin = 40.", *_Z_TO_LEPTONS),
            _label("dy"),
        ),
        Process(
            "qcd",
            SampleRole.BACKGROUND,
            "QCD multijet 2 -> 2, pT-hat > 20 GeV",
            ("HardQCD:all = on", "PhaseSpace:pTHatMin = 20."),
            _label("qcd"),
        ),
        Process(
            "ttbar",
            SampleRole.BACKGROUND,
            "top-pair production, inclusive decays",
            ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
            _label("ttbar"),
        ),
        Process(
            "wjets",
            SampleRole.BACKGROUND,
            "W(-> l nu) + jet, pT-hat > 10 GeV (l = e, mu, tau)",
            (
                "WeakBosonAndParton:qqbar2Wg = on",
                "WeakBosonAndParton:qg2Wq = on",
                "PhaseSpace:pTHatMin = 10.",
                *_W_TO_LEPTONS,
            ),
            _label("wjets"),
        ),
        # ------------------------------------------------------------------------------ zero bias
        Process(
            "zero_bias",
            SampleRole.ZERO_BIAS,
            "random bunch crossings: one inelastic pp interaction + Poisson pile-up",
            ("SoftQCD:inelastic = on",),
        ),
        # -------------------------------------------------------------------------------- signals
        Process(
            "ato4l",
            SampleRole.SIGNAL,
            "neutral scalar A (m = 50 GeV) -> Z Z* -> 4 l (e, mu), gg fusion",
            (
                "Higgs:useBSM = on",
                "HiggsBSM:gg2H2 = on",
                "35:m0 = 50.",
                "35:onMode = off",
                "35:onIfMatch = 23 23",
                "23:onMode = off",
                "23:onIfAny = 11 13",
                "23:mMin = 2.",
            ),
        ),
        Process(
            "lq_btau",
            SampleRole.SIGNAL,
            "leptoquark pair (m = 80 GeV), LQ -> b tau",
            (
                "LeptoQuark:gg2LQLQbar = on",
                "LeptoQuark:qqbar2LQLQbar = on",
                "42:m0 = 80.",
                "42:chargeType = -4",
                "42:oneChannel = 1 1.0 0 5 15",
            ),
        ),
        Process(
            "h0_tautau",
            SampleRole.SIGNAL,
            "neutral scalar h0 (m = 60 GeV) -> tau tau, gg fusion",
            ("HiggsSM:gg2H = on", "25:m0 = 60.", "25:onMode = off", "25:onIfMatch = 15 -15"),
        ),
        Process(
            "hplus_taunu",
            SampleRole.SIGNAL,
            "charged scalar h+- (m = 60 GeV) -> tau nu, f fbar' -> h+-",
            ("Higgs:useBSM = on", "HiggsBSM:ffbar2H+- = on", "37:m0 = 60.", "37:onMode = off", "37:onIfMatch = 15 16"),
        ),
        Process(
            "zprime_ll",
            SampleRole.SIGNAL,
            "Z' (m = 1 TeV) -> ll (e, mu), SSM couplings",
            (
                "NewGaugeBoson:ffbar2gmZZprime = on",
                "Zprime:gmZmode = 3",
                "32:m0 = 1000.",
                "32:onMode = off",
                "32:onIfAny = 11 13",
            ),
        ),
        Process(
            "vbf_htautau",
            SampleRole.SIGNAL,
            "vector-boson fusion H (m = 125 GeV) -> tau tau: two forward tag jets, a rapidity gap",
            (
                "HiggsSM:ff2Hff(t:ZZ) = on",
                "HiggsSM:ff2Hff(t:WW) = on",
                "25:m0 = 125.",
                "25:onMode = off",
                "25:onIfMatch = 15 -15",
            ),
        ),
        Process(
            "emj",
            SampleRole.SIGNAL,
            "emerging jets: mediator X_d (1 TeV) pairs -> d + dark quark; dark pions -> d dbar, c tau = 25 mm",
            _EMERGING_JETS,
        ),
        # ------------------------------------------------------------------ SM outside the cocktail
        Process(
            "diboson",
            SampleRole.UNSEEN_SM,
            "WW, WZ, ZZ (gamma*/Z), inclusive decays: SM not in the training cocktail",
            ("WeakDoubleBoson:all = on",),
        ),
    )
}


def get_process(name: str) -> Process:
    """The process called ``name``; a :class:`~wnae.errors.ConfigError` lists the known ones."""
    from wnae.errors import ConfigError

    try:
        return PROCESSES[name]
    except KeyError:
        msg = f"unknown sample '{name}'; known samples: {', '.join(PROCESSES)}"
        raise ConfigError(msg) from None


def slice_name(low_gev: float, high_gev: float | None) -> str:
    """Sample name of a QCD pT-hat slice, e.g. ``qcd_pthat_30_50`` or ``qcd_pthat_470_inf``."""
    return f"qcd_pthat_{low_gev:g}_{'inf' if high_gev is None else f'{high_gev:g}'}"


def qcd_slice(low_gev: float, high_gev: float | None) -> Process:
    """QCD 2 → 2 with low ≤ pT-hat < high (GeV; None = open-ended): a zero-bias component.

    Mixed with the unbiased zero bias by :mod:`wnae.data.zero_bias`, each event weighted by the
    slice's share of the bunch crossings.
    """
    cuts = [f"PhaseSpace:pTHatMin = {low_gev:g}"]
    if high_gev is not None:
        cuts.append(f"PhaseSpace:pTHatMax = {high_gev:g}")
    high = "inf" if high_gev is None else f"{high_gev:g}"
    return Process(
        slice_name(low_gev, high_gev),
        SampleRole.ZERO_BIAS,
        f"zero-bias component: QCD 2 -> 2 with {low_gev:g} <= pT-hat < {high} GeV + softer pile-up, weighted",
        ("HardQCD:all = on", *cuts),
    )
