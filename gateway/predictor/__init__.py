"""The Cog predictor (Replicate): the gateway's pipeline over a vLLM engine, without HTTP.

predict.py (repository root, named by cog.yaml) is a thin `cog.BaseRunner` whose ``run()``
calls `Service.predict`; everything else lives here, one job per module:

gpus.py        the GPU → engine profile rule (T4, L40S, A100 80 GB, H100; none: cpu-dev)
engine.py      start vLLM with that profile and wait for health, or attach (COG_ENGINE_URL)
service.py     setup(): engine + settings + runtime; run(): inputs checked, then predicted
inputs.py      the inputs as plain values; `PredictionError`, the one failure it raises
runtime.py     the pipeline in-process: `load_source` + `extract`, or a free prompt
freeprompt.py  a prompt without a schema: one chat completion over the checked images
output.py      `Output`, the one return type (an extraction result, or ``text``)
openapi.py     .cog/openapi_schema.json from the predictor, as Cog's CLI would write it

Needs the ``cog`` extra (``pip install -e ".[cog]"``); the gateway itself never imports it.
"""

__all__: list[str] = []
