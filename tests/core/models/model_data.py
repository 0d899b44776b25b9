"""Functions the model-store tests register (importable, so subprocesses can load them)."""


def featurize(df):
    out = df[["sepal_length", "sepal_width", "petal_length", "petal_width"]].copy()
    out["petal_area"] = out["petal_length"] * out["petal_width"]
    return out


def predict_labels(model, X):
    return model.predict(X)
