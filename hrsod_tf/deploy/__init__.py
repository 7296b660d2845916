"""Running trained models where users need them.

    saved_model.py       the whole pipeline as one SavedModel for TF Serving
    serving_model.py     loading that SavedModel back (plain TensorFlow, no project code)
    runtimes/            the networks on OpenVINO, ONNX Runtime and LiteRT (float32, bfloat16, int8): export, run
    model_loading.py     one entry point: a work directory or an export -> something that predicts maps
    prediction.py        predict.py's library: inputs, outputs, rendering
    video.py             video files frame by frame
    batch_prediction.py  batch inference on Apache Beam
"""
