"""The serving benchmark's peer: a scikit-learn KMeans (pickled by train.py,
path in $MODEL_PATH) behind Flask, run by Debian's gunicorn:

    MODEL_PATH=/path/model.pkl gunicorn -w 2 -b 127.0.0.1:8081 app:app

GET /ping answers 200; POST /invocations takes text/csv rows of features
(no label) and answers SageMaker k-means' JSON layout:
{"predictions":[{"closest_cluster":c,"distance_to_cluster":d},...]}.
CSV is parsed with numpy (newlines to commas, one np.fromstring), the
fastest plain-numpy parse of a CSV body; distances from KMeans.transform.
"""
import json
import os
import pickle

import numpy as np
from flask import Flask, Response, request

with open(os.environ["MODEL_PATH"], "rb") as f:
    MODEL = pickle.load(f)
DIM = MODEL.cluster_centers_.shape[1]

app = Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    return Response(status=200)


@app.route("/invocations", methods=["POST"])
def invocations():
    if not request.content_type or not request.content_type.startswith("text/csv"):
        return Response('{"error":"text/csv only"}', status=415, mimetype="application/json")
    body = request.get_data()
    x = np.fromstring(body.strip().replace(b"\n", b","), dtype=np.float32, sep=",")
    if x.size == 0 or x.size % DIM:
        return Response('{"error":"bad shape"}', status=400, mimetype="application/json")
    d = MODEL.transform(x.reshape(-1, DIM))
    c = d.argmin(axis=1)
    dist = d[np.arange(len(c)), c]
    preds = [{"closest_cluster": float(ci), "distance_to_cluster": float(di)} for ci, di in zip(c, dist)]
    return Response(json.dumps({"predictions": preds}), status=200, mimetype="application/json")
