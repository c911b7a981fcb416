"""Notebook-01 glue, split by study (each module under ~400 lines); re-exported here for the notebook
(``from lib.ecg import experiment as ex``):

- :mod:`lib.ecg.inputs`: model inputs (EcgInputs), splits, counts;
- :mod:`lib.ecg.headline_seeds`: every headline model over seeds (mean, sd, patient CI), paired;
- :mod:`lib.ecg.headline`: the paper's models on both splits, scores, tables, confusions, equal-label baselines,
  both label readings, the AAMI benchmark, patient-bootstrap CIs;
- :mod:`lib.ecg.importance`: permutation importance across patients;
- :mod:`lib.ecg.al_study`: the CNN-BiLSTM active-learning study (the paper's recipe);
- :mod:`lib.ecg.networks`: the headline networks over seeds, paired with the floor;
- :mod:`lib.ecg.prose`: claims, the metrics file and the headline reading; :mod:`lib.ecg.readings_text`: the other
  generated readings.

The rhythm study with the floor and the sequence model is :mod:`lib.ecg.rhythm` / :mod:`lib.ecg.rhythm_study`,
the forest AL study :mod:`lib.ecg.al_forest`, the AAMI feature models :mod:`lib.ecg.aami`.
"""

from lib.ecg import data as ecg_data  # noqa: F401
from lib.ecg import features as ecg_features  # noqa: F401
from lib.ecg import preprocess as ecg_preprocess  # noqa: F401
from lib.ecg.al_forest_rules import saving_claim_text  # noqa: F401
from lib.ecg.al_study import (  # noqa: F401
    AL_METRIC,
    PROTOCOLS,
    STRATEGY_SETTINGS,
    ALAnalysis,
    ALStudy,
    add_headline_odal,
    al_sets,
    al_suffix,
    analyse_al,
    describe_al_runs,
    equal_budget_reading,
    odal_runs,
    run_al_study,
    strategy_configs,
    write_al,
    write_fuzzy,
    write_studies,
    write_study,
)
from lib.ecg.headline import (  # noqa: F401
    AAMI_KINDS,
    BASELINES,
    MODEL_KINDS,
    _metric_cols,
    _rounded,
    _with_rounded_ci,
    aami_benchmark,
    add_bootstrap_cis,
    alternative_reading,
    compare_models,
    comparison_table,
    confusion,
    confusion_file_name,
    confusion_pattern,
    confusion_tables,
    equal_budget,
    evaluation_tables,
    fit_predict,
    inflation_table,
    label_readings,
    model_kwargs,
    nonsinus_threshold,
    per_class_table,
    score_predictions,
    thresholded,
    validation_threshold,
    write_confusions,
)
from lib.ecg.importance import (  # noqa: F401
    nonsinus_f1_score,
    rf_feature_names,
    rf_importance,
)
from lib.ecg.inputs import (  # noqa: F401
    EcgInputs,
    _cap,
    class_counts_table,
    context_index,
    describe_inputs,
    describe_validation,
    example_figures,
    make_splits,
    model_features,
    prepare_inputs,
    rr_columns,
    split_counts,
    with_rr_reading,
)
from lib.ecg.networks import (  # noqa: F401
    FLOOR,
    READING_LABELS,
    RHYTHM_METRICS,
    RhythmStudy,
    _floor,
    _variant,
    af_patients_text,
    rhythm_reading,
    rhythm_study,
    write_rhythm,
)
from lib.ecg.prose import (  # noqa: F401
    CLAIM_METRICS,
    _with_ci,
    claims_block,
    claims_table,
    headline_reading,
    interpretation,
    metrics_block,
    run_meta,
)
from lib.ecg.readings_text import (  # noqa: F401
    FUZZY_PARTS,
    _bullets,
    _ci_text,
    _verdict,
    aami_reading,
    al_reading,
    fuzzy_effect_lines,
    label_readings_text,
    rhythm_summary_reading,
)
