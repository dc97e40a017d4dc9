"""The retraining loop: labels from the loan ledger, MLflow tracking and registry,
champion/challenger promotion, monitoring and the supervisor's ledger report.

Modules stay about one concept each:

- ``labels``: bad/good/unlabelled per loan and the point-in-time training set;
- ``tracking``: where MLflow lives (embedded SQLite store or a server) and experiments;
- ``registry``: register a model folder, resolve ``models:/NAME@alias`` to a scorer;
- ``metrics``: AUC, KS, Brier, calibration by grade, PSI;
- ``gate``: the champion/challenger comparison and decision;
- ``monitor``: population stability and realised default rates against a model;
- ``ledger_report``: the supervisor's per-bank / per-region KPIs and funnel.
"""
