"""Rehearse out loud: spoken answers transcribed offline, their delivery measured, and mock interviews.

`rehearse.model` owns the speech model's packages and cache folder, `rehearse.transcribe` decodes a recording,
transcribes it and measures the delivery, `rehearse.mock` runs a mock interview over the learner's plan. Nothing
here imports streamlit; the app's views (ui/views/speak.py, ui/views/mock.py) and `python -m index grade --audio`
are the front ends. Modules are imported on use: faster-whisper loads only when something is transcribed.
"""
