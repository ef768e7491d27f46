import itertools

from dealflow.automation.calculations import TRIGGER_KINDS, Occasion, RuleIndex, RuleSpec, rule_matches

KINDS = [
    "created",
    "stage_changed",
    "reopened",
    "won",
    "lost",
    "amount_changed",
    "lead_created",
    "rotting",
    "noted",
]


def test_the_index_puts_an_occasion_to_exactly_the_rules_the_matcher_accepts():
    """The index only narrows the field: over every kind, stage, source and team, it finds what asking every
    rule would find, in id order."""
    specs = [
        RuleSpec("stage_entered", stage_id=3),
        RuleSpec("stage_entered", stage_id=4, team_id=1),
        RuleSpec("stage_entered", stage_id=None),
        RuleSpec("won"),
        RuleSpec("lost", pipeline_id=2),
        RuleSpec("amount_above", amount_minor=1000, currency="EUR"),
        RuleSpec("lead_source", source_id=7),
        RuleSpec("lead_source", source_id=None),
        RuleSpec("rotting", days=10),
        RuleSpec("tuesday"),
    ]
    index = RuleIndex((number * 10, spec) for number, spec in enumerate(specs, start=1))
    occasions = [
        Occasion(
            kind,
            team_id,
            pipeline_id=pipeline,
            to_stage_id=stage,
            amount_minor=amount,
            currency="EUR",
            source_id=source,
            days=days,
        )
        for kind, team_id, pipeline, stage, amount, source, days in itertools.product(
            KINDS, [None, 1, 2], [None, 2, 5], [None, 3, 4], [None, 500, 5000], [None, 7, 8], [None, 9, 30]
        )
    ]
    fired = 0
    for occasion in occasions:
        expected = [rule_id for rule_id, spec in sorted(index.specs.items()) if rule_matches(spec, occasion)]
        assert index.matching(occasion) == expected
        fired += bool(expected)
    assert fired > 1000  # the grid exercises the rules, not only misses


def test_every_trigger_but_the_unknown_listens_to_some_kind():
    assert rule_matches(RuleSpec("won"), Occasion("won", None))
    assert not rule_matches(RuleSpec("won"), Occasion("lost", None))
    assert set(TRIGGER_KINDS) == {"stage_entered", "won", "lost", "amount_above", "lead_source", "rotting"}
