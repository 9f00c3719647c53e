"""The scenario authoring dialog: steps, criteria, structures, devices and scoring as forms.

Tabs: *Scenario* (name, description, time limit), *Steps* (ordered list with
add/remove/reorder; per step its title, instructions, optional picture, the objects shown, the
instruments and devices in play, time limit, weight, success criteria with their
parameters and the step's own score bands, blank for the scenario's), *Structures* (critical
structures and their damage thresholds), *Devices* (the device plans: entry, target, depth and
where the device starts), *Scoring* (per metric its weight and its [good, bad] band, blank for
the default) and *Advanced (JSON)*, the whole documented file for what the forms leave out
(the simulation set-up, a custom start pose). The tabs share one working copy of the
scenario's JSON: leaving a tab stores its fields into it, entering one loads from it. *Apply*
validates it (:meth:`Scenario.from_dict`) and hands it to the panel; errors show in the
dialog, and the band rows (Steps and Scoring) and the Devices tab flag a bad band or plan as it
is typed.

Modules: :mod:`.dialog` (the shell: tabs, working copy, Scenario and JSON tabs, Apply),
:mod:`.steps` (step list) and :mod:`.step_form` (one step's form and its criterion rows),
:mod:`.structures`, :mod:`.devices` and :mod:`.scoring` (one tab each), :mod:`.bands` (the
band rows the Scoring tab and the step form share) and :mod:`.fields` (the small field widgets
they all share).
"""

from viewer.panels.rehearse_authoring.bands import BandRow, BandRows
from viewer.panels.rehearse_authoring.devices import DEVICE_COLUMNS, DevicesTab
from viewer.panels.rehearse_authoring.dialog import TABS, AuthoringDialog
from viewer.panels.rehearse_authoring.fields import ERROR_STYLE, ExactSpin
from viewer.panels.rehearse_authoring.scoring import ScoringTab
from viewer.panels.rehearse_authoring.step_form import (
    CRITERION_DEFAULTS,
    CRITERION_FIELDS,
    CRITERION_LABELS,
    CriterionRow,
    StepForm,
)
from viewer.panels.rehearse_authoring.steps import StepsTab
from viewer.panels.rehearse_authoring.structures import THRESHOLDS, StructuresTab

__all__ = [
    "CRITERION_DEFAULTS",
    "CRITERION_FIELDS",
    "CRITERION_LABELS",
    "DEVICE_COLUMNS",
    "ERROR_STYLE",
    "TABS",
    "THRESHOLDS",
    "AuthoringDialog",
    "BandRow",
    "BandRows",
    "CriterionRow",
    "DevicesTab",
    "ExactSpin",
    "ScoringTab",
    "StepForm",
    "StepsTab",
    "StructuresTab",
]
