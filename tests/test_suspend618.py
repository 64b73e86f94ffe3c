"""The 6.18 suspend window: candidate-fix patches well-formed, the real runs' windows and the model beside them."""

import pytest

from oomnb import suspend618 as S


def test_every_candidate_fix_has_a_well_formed_patch():
    ps = S.patches()
    assert {k.patch for k in S.KERNELS if k.patch} <= set(ps)
    for name, text in ps.items():
        assert S.check_patch(text) == [], name


@pytest.mark.parametrize("plant", [
    lambda t: t.replace("2 files changed", "3 files changed"),  # diffstat summary
    lambda t: t.replace("+\tclear_thread_flag(TIF_MEMDIE);\n", ""),  # hunk shorter than its header
    lambda t: t.replace("a/kernel/exit.c b/kernel/exit.c", "a/kernel/fork.c b/kernel/fork.c"),  # other file
    lambda t: t.replace("Signed-off-by: PLACEHOLDER", "Signed-off-by: Someone"),  # unmarked sign-off
    lambda t: t.replace("Subject: [PATCH]", "Subject:"),  # header
])
def test_check_patch_catches_a_planted_defect(plant):
    text = S.patches()[S.kernel("v6.18+group-oom-victims").patch]
    bad = plant(text)
    assert bad != text
    assert S.check_patch(bad)


def test_windows_are_read_from_the_runs():
    for k in S.KERNELS[:2]:
        w = S.windows(k)
        assert len(w) >= 5, k.label
        for r in w.itertuples():
            # "OOM killer disabled." is printed inside freeze_processes (kmsg clock mapped onto the trace clock)
            assert r.freeze_begin - 0.01 <= r.oom_disabled <= r.freeze_end + 0.01, (k.label, r.run)
            inside = r.freeze_end <= r.other_exit <= r.thaw_begin
            assert r.exited_inside_window == inside, (k.label, r.run)


def test_model_and_measurement_agree_on_6_12_and_6_18():
    t = S.df_table()
    # the finding: 6.18 lets a victim thread run in the window, 6.12 does not; the frozen sibling the other way
    assert t.loc["6.18", "model suspend_exclusion[group]"] == "VIOLATED"
    assert t.loc["6.12", "model suspend_exclusion[group]"] == "holds"
    assert (t.loc[["6.12", "6.18"], ["(a)", "(b)"]] == "agree").all().all()


def test_headline_block_fits_the_post():
    from oomnb import report
    text = S.headline_text()
    assert report.check_block(text) == []
    assert "diff --git a/mm/oom_kill.c b/mm/oom_kill.c" in text


def test_build_script_refuses_bad_arguments_in_one_line(tmp_path):
    import subprocess
    script = S.PATCHES / "build-kernel.sh"
    patch = S.PATCHES / S.kernel("v6.18+group-oom-victims").patch
    cases = [([], 2, "--patch is required"),
             (["--patch", str(patch), "--tree", str(tmp_path), "--config", str(patch), "--out", str(tmp_path / "o")],
              1, "not a kernel tree")]
    for args, rc, msg in cases:
        r = subprocess.run(["sh", str(script), *args], capture_output=True, text=True)
        assert r.returncode == rc and msg in r.stderr and len(r.stderr.splitlines()) == 1, (args, r.stderr)
        assert not (tmp_path / "o").exists()
