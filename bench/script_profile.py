"""Where one script run of a page spends its time on a warm process (pyinstrument inside the script thread).

    PIPELINE_WAREHOUSE=<URL> python bench/script_profile.py [pages/trends.py]
    PIPELINE_WAREHOUSE=<URL> python bench/script_profile.py --cpu 10 pages/overview.py pages/trends.py ...

AppTest runs the router once (imports, reference geometry, first queries), then a new session twice;
the second is profiled (the script runner's exec wrapped, so the profile is of the script's own thread).
``--cpu N``: no profile; per page, N new sessions' runs (after one unmeasured), the median CPU seconds
of the process (user + system, every thread: the script's and the queries') and wall seconds per run.
"""
import sys, time
from pathlib import Path
from pyinstrument import Profiler
import streamlit.runtime.scriptrunner.script_runner as sr
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
state = {"on": False, "profiles": []}
plain = sr.exec_func_with_error_handling

def profiled(func, ctx):
    if not state["on"]:
        return plain(func, ctx)
    p = Profiler(interval=0.002)
    p.start()
    try:
        return plain(func, ctx)
    finally:
        p.stop()
        state["profiles"].append(p)

sr.exec_func_with_error_handling = profiled
t0 = time.perf_counter()
at = AppTest.from_file(APP, default_timeout=300)
at.run()
print("first run in the process (imports, geometry, queries) %.2f s" % (time.perf_counter() - t0), file=sys.stderr)
if len(sys.argv) > 2 and sys.argv[1] == "--cpu":
    import statistics
    runs = int(sys.argv[2])
    for page in sys.argv[3:] or [None]:
        cpu, wall = [], []
        for i in range(runs + 1):
            at = AppTest.from_file(APP, default_timeout=300)
            if page:
                at.switch_page(page)
            c, t = time.process_time(), time.perf_counter()
            at.run()
            assert not at.exception, at.exception
            if i:
                cpu.append(time.process_time() - c)
                wall.append(time.perf_counter() - t)
        print("%s: CPU %.3f s, wall %.3f s per run (median of %d)" % (page or "pages/overview.py", statistics.median(cpu),
                                                                        statistics.median(wall), runs))
    sys.exit(0)
page = sys.argv[1] if len(sys.argv) > 1 else None
for i in range(2):
    at = AppTest.from_file(APP, default_timeout=300)
    if page:
        at.switch_page(page)
    state["on"] = i == 1
    t = time.perf_counter()
    at.run()
    print("new session run %d: %.2f s" % (i, time.perf_counter() - t), file=sys.stderr)
print(state["profiles"][-1].output_text(unicode=False, color=False, show_all=False))
