"""The three networks on other CPU runtimes: OpenVINO, ONNX Runtime and LiteRT, in float32, bfloat16 or int8.

    format     files (one per network, beside hrsod_model.json)   runtime (pip)     precisions
    openvino   gsn.xml/.bin  lrn.xml/.bin  glfn.xml/.bin           openvino (+nncf)  float32, bfloat16, int8
    onnx       gsn.onnx      lrn.onnx      glfn.onnx               onnxruntime       float32, int8
    litert     gsn.tflite    lrn.tflite    glfn.tflite             ai-edge-litert    float32, int8

    formats.py           the table above, the settings file, the errors a folder or a request can raise
    network_files.py     a trained Keras network -> the network as exported (fixed input sides, salient channel)
    calibration.py       int8 calibration inputs: what the float32 pipeline feeds each network on training images
    onnx_files.py        Keras -> ONNX (Keras' exporter), ONNX Runtime's int8 quantization, an ONNX Runtime session
    openvino_files.py    ONNX -> OpenVINO IR (OpenVINO's converter), NNCF's int8 quantization, an OpenVINO session
    litert_files.py      Keras -> .tflite (the TFLite converter, int8 with its quantizer), a LiteRT session
    session_networks.py  sessions -> `hrsod_tf.pipeline.PipelineNetworks` (each call a `tf.numpy_function`), so
                         the pipeline's own graph code (APS, crops, pasting, fusion, both protocols) runs them
    export.py            export.py's library for these formats: calibrate, convert, write the folder atomically

Only the networks change runtime: everything between them is the pipeline's TensorFlow code, whatever the
format. The runtimes' packages are optional: each is imported inside the functions that need it, and a missing
one raises `RuntimeNotInstalledError` with the pip command.
"""
