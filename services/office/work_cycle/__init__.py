"""The leading group's work cycle (哈政办综〔2004〕25号 四、五): joint meetings and their decisions, inspections
of the districts and their findings, the scores (考核) of the member units and the districts, commendations
(表彰), and the partner organisations' activities (三、(二) 3–4).

Tables in :mod:`.models`, bodies in :mod:`.schemas`, pure rules in :mod:`.rules`, parameters in
:mod:`.parameters`, use cases in :mod:`.service`, the scores in :mod:`.scores`, what the assessment and
``/metrics`` show in :mod:`.figures`, routes in :mod:`.api`.
"""
