"""Reading (and writing) Caffe `.caffemodel` files, and importing the authors' released HRSOD networks.

    netparameter.py    Caffe's NetParameter message, defined here with the `protobuf` package (no Caffe, no protoc)
    release_layers.py  which Caffe layers of the released deploy networks each Keras layer holds
    converter.py       Caffe blobs <-> Keras weights, and the work directory of the authors' trained model
"""
