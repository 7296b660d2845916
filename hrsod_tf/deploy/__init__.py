"""Running trained models where users need them.

    saved_model.py       the whole pipeline as one SavedModel for TF Serving
    serving_model.py     loading that SavedModel back (plain TensorFlow, no project code)
    runtimes/            the networks on OpenVINO, ONNX Runtime and LiteRT (float32, bfloat16, int8): export, run
    model_loading.py     one entry point: a work directory or an export -> something that predicts maps
    saliency_model.py    the Python API: `hrsod_tf.load(path)` -> predict (maps) and cutout
    prediction.py        predict.py's library: inputs, outputs
    compositing.py       what is drawn: masks, cut-outs (foreground colour estimation), new backgrounds
    temporal.py          steadier video maps (motion-gated running average, one-frame delay)
    video.py             video files frame by frame (PyAV: alpha, audio)
    web_app.py           app.py's local web page (FastAPI)
    batch_prediction.py  batch inference on Apache Beam
"""
