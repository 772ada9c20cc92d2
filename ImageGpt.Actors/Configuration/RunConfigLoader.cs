using System.Globalization;
using System.Text;
using System.Text.Json;
using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Torch;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Configuration;

/// <summary>
/// Reads a <see cref="RunConfig"/> strictly: hocon/reference.conf under the user's file under the --set
/// overrides, resolved once; every setting must be one reference.conf lists, have the right type and lie in
/// its range. A typo therefore stops the run at start with the key, where it was written and the closest
/// known key, instead of silently training with the default.
/// </summary>
public static class RunConfigLoader
{
    private const string ListedHint = "every setting is listed in hocon/reference.conf";

    /// <summary>
    /// Loads and validates a run configuration. <paramref name="reference"/> is the unresolved reference.conf,
    /// <paramref name="file"/> the user's --config file (or null), <paramref name="sets"/> the --set path=value
    /// overrides in order, <paramref name="runDirOverride"/> a --run-dir that beats run.dir.
    /// <paramref name="environment"/> answers <c>${?ENV}</c> substitutions (default: the process environment).
    /// </summary>
    public static RunConfig Load(Config reference, string? file, IReadOnlyList<string> sets, string? runDirOverride,
        Func<string, string?>? environment = null)
    {
        Config resolved = Layer(reference, file, sets).Resolve(environment);
        return FromResolved(resolved, reference.Resolve(environment), runDirOverride);
    }

    /// <summary>reference under <paramref name="file"/> under the --set overrides, not yet resolved (so substitutions follow the overrides).</summary>
    public static Config Layer(Config reference, string? file, IReadOnlyList<string> sets)
    {
        Config config = reference;
        if (file is not null) config = ConfigFactory.ParseFile(file).WithFallback(config);
        foreach (string set in sets)
        {
            int eq = set.IndexOf('=');
            if (eq <= 0)
                throw new UserError($"--set '{set}' is not path=value. HINT: write e.g. --set train.steps=500");
            config = config.WithValue(set[..eq].Trim(), set[(eq + 1)..], $"--set '{set}'");
        }
        return config;
    }

    /// <summary>
    /// Builds the record from a config already layered and resolved. <paramref name="reference"/> (resolved)
    /// says which settings exist. <paramref name="processorCount"/> replaces Environment.ProcessorCount for
    /// runtime.trainers = 0 (auto). <paramref name="torchCudaDevices"/> replaces loading libtorch and asking its
    /// GPU count, done only for runtime.backend = torch, so that a libtorch that cannot load stops the run here.
    /// </summary>
    public static RunConfig FromResolved(Config resolved, Config reference, string? runDirOverride = null, int? processorCount = null,
        Func<int>? torchCudaDevices = null)
    {
        CheckKnownKeys(resolved, reference);
        AkkaSettings.Validate(resolved);
        var r = new Reader(resolved);

        string objectiveText = r.String("model.objective");
        Objective objective = objectiveText.ToLowerInvariant() switch
        {
            "autoregressive" => Objective.Autoregressive,
            "bert" => Objective.Bert,
            _ => throw r.Invalid("model.objective", $"\"{objectiveText}\"", "is not a training objective",
                "set model.objective = autoregressive (next pixel, the paper's main model) or bert (masked pixels)"),
        };
        var model = new GptConfig(
            Layers: r.Int("model.layers"), Width: r.Int("model.width"), Heads: r.Int("model.heads"),
            Vocab: r.Int("model.vocab"), Side: r.Int("model.side"), Classes: 0, Objective: objective,
            Seed: r.Seed("model.seed"));
        model.Validate();

        DataSettings data = ReadData(r, model);
        TrainSettings train = ReadTrain(r);
        RuntimeSettings runtime = ReadRuntime(r, processorCount ?? Environment.ProcessorCount, torchCudaDevices ?? LibTorch.CudaDevices);
        CheckpointSettings checkpoint = ReadCheckpoint(r);
        EvalSettings eval = ReadEval(r);
        var log = new LogSettings(r.Int("log.every", min: 1, hint: "set log.every to the steps between progress lines, e.g. 50"));

        string runDir = runDirOverride ?? r.String("run.dir");
        if (string.IsNullOrWhiteSpace(runDir))
        {
            if (runDirOverride is not null)
                throw new UserError("--run-dir is empty. HINT: pass a folder, e.g. --run-dir runs/try1");
            throw r.Invalid("run.dir", "\"\"", "is empty", "set run.dir to the folder the run writes into, e.g. run.dir = runs/default");
        }
        string runId = r.String("run.id");
        if (string.IsNullOrWhiteSpace(runId)) runId = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(runDir)));
        if (runId.Length > 200 || runId.Any(char.IsControl))
            throw r.Invalid("run.id", $"\"{runId}\"", "is not a run id", "set run.id to a short name without control characters, e.g. run.id = fashion-mnist-1 (or leave it empty for the run directory's name)");
        string secret = r.String("run.secret");
        if (secret.Length is > 0 and < 16)
            // Not r.Invalid: the origin of a --set would repeat the value.
            throw new UserError("config 'run.secret' is shorter than 16 characters (its value is not shown). HINT: use a long random secret (e.g. openssl rand -hex 32), or leave run.secret empty to have one made");
        TimeSpan leaseTtl = r.Duration("cluster.lease-ttl");
        if (leaseTtl < TimeSpan.FromSeconds(1))
            throw r.Invalid("cluster.lease-ttl", r.Text("cluster.lease-ttl"), "is shorter than 1s", "set cluster.lease-ttl to a duration such as 20s");
        TimeSpan joinTimeout = r.Duration("cluster.join-timeout");
        if (joinTimeout <= TimeSpan.Zero)
            throw r.Invalid("cluster.join-timeout", r.Text("cluster.join-timeout"), "must be positive", "set cluster.join-timeout to a duration such as 30s");
        int dataPlanePort = r.Int("cluster.data-plane-port", min: 0, hint: "set cluster.data-plane-port to a free TCP port, or 0 for any");
        if (dataPlanePort > 65535)
            throw r.Invalid("cluster.data-plane-port", r.Text("cluster.data-plane-port"), "is not a TCP port", "set cluster.data-plane-port to a free port in 1..65535, or 0 for any");
        int minTrainers = r.Int("cluster.min-trainers", min: 1, hint: "set cluster.min-trainers to the number of trainers the run waits for before its first step (1: none)");
        return new RunConfig(model, data, train, runtime, checkpoint, eval, log, runDir, runId, secret, new ClusterSettings(leaseTtl, joinTimeout, dataPlanePort, minTrainers));
    }

    private static DataSettings ReadData(Reader r, GptConfig model)
    {
        string setName = r.String("data.set");
        DataSetInfo info;
        try { info = DataSetCatalog.Get(setName); }
        catch (UserError)
        {
            throw r.Invalid("data.set", $"\"{setName}\"", "is not a known data set",
                $"use one of {string.Join(", ", DataSetCatalog.All.Select(d => d.Name))}");
        }
        string? dir = r.OptionalString("data.dir");
        int limit = r.Int("data.limit", min: 0, hint: "set data.limit = 0 to use every training image, or N to use the first N");
        double fraction = r.Double("data.validation-fraction");
        if (!(fraction > 0 && fraction <= 0.5))
            throw r.Invalid("data.validation-fraction", r.Text("data.validation-fraction"), "must be in (0, 0.5]",
                "hold out a share of the training set for validation; the paper uses 0.1");
        ulong splitSeed = r.Seed("data.split-seed");
        int clusters = r.Int("data.palette.clusters", min: 1, hint: "leave data.palette.clusters = ${model.vocab}");
        if (clusters != model.Vocab)
            throw new UserError(
                $"config 'data.palette.clusters' = {clusters} at {r.Where("data.palette.clusters")} differs from model.vocab = {model.Vocab} at {r.Where("model.vocab")}. " +
                "HINT: each palette cluster is one token, so they must agree: set data.palette.clusters = ${model.vocab} (the reference default) or give both the same number");
        int samplePixels = r.Int("data.palette.sample-pixels", min: clusters,
            hint: $"k-means needs at least one pixel per cluster: set data.palette.sample-pixels >= {clusters}, e.g. 1000000");
        int iterations = r.Int("data.palette.iterations", min: 1, hint: "set data.palette.iterations to the Lloyd iteration cap, e.g. 100");
        ulong paletteSeed = r.Seed("data.palette.seed");
        return new DataSettings(info.Name, dir, limit, fraction, splitSeed, clusters, samplePixels, iterations, paletteSeed);
    }

    private static TrainSettings ReadTrain(Reader r)
    {
        int batch = r.Int("train.batch", min: 1, hint: "set train.batch to the images per step, e.g. 32");
        int shards = r.Int("train.shards");
        if (shards < 1 || shards > batch)
            throw r.Invalid("train.shards", r.Text("train.shards"), $"must be between 1 and train.batch = {batch}",
                $"set train.shards to at most {batch}, so that every shard holds at least one image (e.g. 2)");
        double lr = r.Double("train.lr");
        if (!(lr > 0) || !double.IsFinite(lr))
            throw r.Invalid("train.lr", r.Text("train.lr"), "must be a positive number", "set train.lr to the peak learning rate, e.g. 3e-3 (the paper's iGPT-S)");
        int steps = r.Int("train.steps", min: 1, hint: "set train.steps to the total optimizer steps, e.g. 3000");
        int warmup = r.Int("train.warmup", min: 0, hint: "set train.warmup to the linear warm-up steps, e.g. 100, or 0 for none");
        if (warmup > steps)
            throw r.Invalid("train.warmup", r.Text("train.warmup"), $"is longer than train.steps = {steps}",
                $"set train.warmup <= {steps}; the cosine decay runs from the end of the warm-up to step {steps}");
        double beta1 = UnitInterval(r, "train.beta1", "0.9");
        double beta2 = UnitInterval(r, "train.beta2", "0.95 (the paper saw loss spikes with 0.999)");
        double weightDecay = r.Double("train.weight-decay");
        if (!(weightDecay >= 0) || !double.IsFinite(weightDecay))
            throw r.Invalid("train.weight-decay", r.Text("train.weight-decay"), "must be >= 0", "set train.weight-decay = 0 (the paper uses none)");
        double clip = r.Double("train.clip");
        if (!(clip >= 0) || !double.IsFinite(clip))
            throw r.Invalid("train.clip", r.Text("train.clip"), "must be >= 0", "set train.clip to the global gradient-norm cap, e.g. 1.0, or 0 to turn clipping off");
        return new TrainSettings(batch, shards, lr, warmup, steps, beta1, beta2, weightDecay, clip, r.Seed("train.seed"));
    }

    private static double UnitInterval(Reader r, string path, string example)
    {
        double v = r.Double(path);
        if (!(v >= 0 && v < 1))
            throw r.Invalid(path, r.Text(path), "must be in [0, 1)", $"Adam's moment decay must be below 1: set {path} = {example}");
        return v;
    }

    private static RuntimeSettings ReadRuntime(Reader r, int processorCount, Func<int> torchCudaDevices)
    {
        int threads = r.Int("runtime.threads-per-trainer", min: 1, hint: "set runtime.threads-per-trainer to the kernel threads of each trainer, e.g. 1");
        int trainers = r.Int("runtime.trainers", min: 0, hint: "set runtime.trainers = 0 for one trainer per threads-per-trainer cores, or the number you want");
        var (backend, device) = ReadCompute(r);
        int gpus = backend == ComputeBackend.Torch ? torchCudaDevices() : 0;
        if (device.Problem(gpus) is var (found, deviceHint))
            throw r.Invalid("runtime.device", device.ToString(), $"but libtorch {found}", deviceHint);
        // 0 = auto: one trainer per group of threads-per-trainer cores, so the trainers together use the machine;
        // on CUDA one trainer per GPU (runtime.device = cuda) or one on the GPU named.
        if (trainers == 0) trainers = !device.Cuda ? Math.Max(1, processorCount / threads) : device.Index is null ? gpus : 1;
        int prefetch = r.Int("runtime.prefetch", min: 1, hint: "set runtime.prefetch to the batches buffered per trainer, e.g. 4");
        TimeSpan deadline = r.Duration("runtime.step-deadline");
        if (deadline <= TimeSpan.Zero)
            throw r.Invalid("runtime.step-deadline", r.Text("runtime.step-deadline"), "must be positive", "set runtime.step-deadline to a duration such as 60s");
        TimeSpan minBackoff = r.Duration("runtime.restart.min-backoff");
        if (minBackoff <= TimeSpan.Zero)
            throw r.Invalid("runtime.restart.min-backoff", r.Text("runtime.restart.min-backoff"), "must be positive", "set runtime.restart.min-backoff to a duration such as 200ms");
        TimeSpan maxBackoff = r.Duration("runtime.restart.max-backoff");
        if (maxBackoff <= TimeSpan.Zero)
            throw r.Invalid("runtime.restart.max-backoff", r.Text("runtime.restart.max-backoff"), "must be positive", "set runtime.restart.max-backoff to a duration such as 10s");
        if (minBackoff > maxBackoff)
            throw r.Invalid("runtime.restart.min-backoff", r.Text("runtime.restart.min-backoff"),
                $"is longer than runtime.restart.max-backoff = {r.Text("runtime.restart.max-backoff")} at {r.Where("runtime.restart.max-backoff")}",
                "the restart delay doubles from min-backoff up to max-backoff: make min-backoff <= max-backoff");
        int maxRestarts = r.Int("runtime.restart.max-restarts", min: 0, hint: "set runtime.restart.max-restarts to the restarts allowed per child within runtime.restart.window, e.g. 10");
        TimeSpan window = r.Duration("runtime.restart.window");
        if (window <= TimeSpan.Zero)
            throw r.Invalid("runtime.restart.window", r.Text("runtime.restart.window"), "must be positive", "set runtime.restart.window to a duration such as 1m");
        return new RuntimeSettings(trainers, threads, prefetch, deadline, minBackoff, maxBackoff, maxRestarts, window, backend, device);
    }

    private static (ComputeBackend, ComputeDevice) ReadCompute(Reader r)
    {
        string backendText = r.String("runtime.backend");
        if (!ComputeBackends.TryParse(backendText, out ComputeBackend backend))
            throw r.Invalid("runtime.backend", $"\"{backendText}\"", "is not a backend",
                "set runtime.backend = nn (our engine, the default) or torch (libtorch through TorchSharp, for GPUs)");
        string deviceText = r.String("runtime.device");
        if (!ComputeDevice.TryParse(deviceText, out ComputeDevice device))
            throw r.Invalid("runtime.device", $"\"{deviceText}\"", "is not a device", "set runtime.device = cpu, cuda (every GPU) or cuda:N (GPU N)");
        if (device.Cuda && backend == ComputeBackend.Nn)
            throw r.Invalid("runtime.device", $"\"{deviceText}\"", $"needs runtime.backend = torch (it is nn at {r.Where("runtime.backend")})",
                "our engine runs on the CPU: set runtime.backend = torch to train on GPUs, or runtime.device = cpu");
        return (backend, device);
    }

    private static CheckpointSettings ReadCheckpoint(Reader r)
    {
        int every = r.Int("checkpoint.every", min: 1, hint: "set checkpoint.every to the steps between checkpoints, e.g. 500");
        int keep = r.Int("checkpoint.keep", min: 0, hint: "set checkpoint.keep to the checkpoints kept, e.g. 3, or 0 to keep all");
        string store = r.String("checkpoint.store");
        if (store is not ("sqlite" or "postgres"))
            throw r.Invalid("checkpoint.store", $"\"{store}\"", "is not a store", "set checkpoint.store = sqlite (run.db in the run directory) or postgres (with checkpoint.postgres set)");
        string postgres = r.String("checkpoint.postgres");
        if (store == "postgres" && string.IsNullOrWhiteSpace(postgres))
            throw r.Invalid("checkpoint.postgres", "\"\"", "is empty but checkpoint.store = postgres",
                "set checkpoint.postgres to an Npgsql connection string, e.g. \"Host=db;Username=igpt;Password=...;Database=igpt\"");
        return new CheckpointSettings(every, keep, store, postgres, r.Bool("checkpoint.export-safetensors"));
    }

    private static EvalSettings ReadEval(Reader r)
    {
        bool enabled = r.Bool("eval.enabled");
        int validation = r.Int("eval.validation-images", min: 0, hint: "set eval.validation-images to the images of the validation loss, e.g. 1000, or 0 to skip it");
        int probeTrain = ProbeSize(r, "eval.probe.train");
        int probeValidation = ProbeSize(r, "eval.probe.validation");
        int probeTest = ProbeSize(r, "eval.probe.test");
        int completions = r.Int("eval.completions.images", min: 0, hint: "set eval.completions.images to the test images completed, e.g. 8, or 0 for none");
        int perImage = r.Int("eval.completions.per-image", min: 0, hint: "set eval.completions.per-image to the samples per image, e.g. 3");
        int threads = r.Int("eval.threads", min: 1, hint: "set eval.threads to the evaluator's kernel threads, e.g. 1");
        return new EvalSettings(enabled, validation, probeTrain, probeValidation, probeTest, completions, perImage, threads, r.Seed("eval.seed"), ProbeGrid(r));
    }

    private static int ProbeSize(Reader r, string path)
    {
        int v = r.Int(path);
        // Fewer than two images per Fashion-MNIST class leaves a multinomial probe nothing to fit or measure.
        if (v != 0 && v < 20)
            throw r.Invalid(path, r.Text(path), "must be 0 (no probe) or at least 20", $"set {path} = 0 to skip the probe, or e.g. 1000");
        return v;
    }

    /// <summary>
    /// Throws a <see cref="UserError"/> for the first setting in <paramref name="resolved"/> that reference.conf
    /// does not have (with the closest known key), or that is an object where reference.conf has a value or
    /// the other way round. Both configs must be resolved.
    /// </summary>
    public static void CheckKnownKeys(Config resolved, Config reference)
    {
        var unknown = new List<(string Path, HoconValue Value)>();
        Walk(resolved.Root, reference.Root, [], unknown);
        if (unknown.Count == 0) return;
        (string path, HoconValue value) = unknown[0];
        string? closest = Closest(path, LeafPaths(reference.Root, []));
        string more = unknown.Count > 1 ? $" (and {unknown.Count - 1} more: {string.Join(", ", unknown.Skip(1).Take(5).Select(u => u.Path))})" : "";
        string suggestion = closest is null ? "" : $"did you mean '{closest}'? ";
        throw new UserError($"unknown setting '{path}' at {Where(value.Origin)}{more}. HINT: {suggestion}{ListedHint}");
    }

    private static void Walk(HoconObject given, HoconObject known, List<string> prefix, List<(string, HoconValue)> unknown)
    {
        foreach (string key in given.Keys)
        {
            HoconValue value = given[key];
            List<string> path = [.. prefix, key];
            if (prefix.Count == 0 && key == "akka") continue;
            if (!known.TryGetValue(key, out HoconValue knownValue))
            {
                (List<string> leafPath, HoconValue leaf) = FirstLeaf(value, path);
                unknown.Add((HoconPath.Render(leafPath), leaf));
            }
            else if (knownValue is HoconObject knownObject)
            {
                if (value is HoconObject givenObject) Walk(givenObject, knownObject, path, unknown);
                else
                    throw new UserError($"config '{HoconPath.Render(path)}' at {Where(value.Origin)} is {Shown(value)}; expected a section with the keys " +
                        $"{string.Join(", ", knownObject.Keys)}. HINT: set single values inside it, e.g. {HoconPath.Render([.. path, knownObject.Keys.First()])} = ..., {ListedHint}");
            }
            else if (value is HoconObject)
            {
                throw new UserError($"config '{HoconPath.Render(path)}' at {Where(value.Origin)} is an object; expected a single value like reference.conf's. " +
                    $"HINT: write {HoconPath.Render(path)} = value, {ListedHint}");
            }
        }
    }

    private static (List<string>, HoconValue) FirstLeaf(HoconValue value, List<string> path)
    {
        while (value is HoconObject { Count: > 0 } o)
        {
            string key = o.Keys.First();
            path = [.. path, key];
            value = o[key];
        }
        return (path, value);
    }

    private static List<string> LeafPaths(HoconObject o, List<string> prefix)
    {
        var paths = new List<string>();
        foreach (string key in o.Keys)
        {
            List<string> path = [.. prefix, key];
            if (o[key] is HoconObject child) paths.AddRange(LeafPaths(child, path));
            else paths.Add(HoconPath.Render(path));
        }
        return paths;
    }

    /// <summary>
    /// The known key nearest to <paramref name="path"/> by edit distance, where a key whose last element
    /// matches closely also counts as near (a setting written in the wrong section); null when nothing is
    /// plausibly meant.
    /// </summary>
    internal static string? Closest(string path, IEnumerable<string> known)
    {
        string last = LastElement(path);
        string? best = null;
        int bestScore = int.MaxValue, bestFull = int.MaxValue;
        bool bestPlausible = false;
        foreach (string candidate in known)
        {
            int full = Levenshtein(path, candidate);
            int lastDistance = Levenshtein(last, LastElement(candidate));
            int score = Math.Min(full, lastDistance + 1);
            if (score < bestScore || (score == bestScore && full < bestFull))
            {
                best = candidate;
                bestScore = score;
                bestFull = full;
                // A typo changes about one character in three; beyond that the "suggestion" is a different setting.
                bestPlausible = full <= Math.Max(2, path.Length / 3) || lastDistance <= Math.Max(1, last.Length / 3);
            }
        }
        return bestPlausible ? best : null;
    }

    private static string LastElement(string path)
    {
        int dot = path.LastIndexOf('.');
        return dot < 0 ? path : path[(dot + 1)..];
    }

    internal static int Levenshtein(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitute, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    /// <summary>"file:line", or just the --set text for overrides (whose line is always 1).</summary>
    private static string Where(HoconOrigin origin) =>
        origin.Source.StartsWith("--set", StringComparison.Ordinal) ? origin.Source : origin.ToString();

    private static string Shown(HoconValue v) => v switch
    {
        HoconScalar { Kind: HoconScalarKind.Null } => "null",
        HoconScalar { Kind: HoconScalarKind.String } s => $"the string \"{s.Text}\"",
        HoconScalar s => $"{s.KindName} ({s.Text})",
        _ => v.KindName,
    };

    /// <summary>Typed reads with the key, value and origin in every error; the Config getters check the types.</summary>
    private static double[] ProbeGrid(Reader r)
    {
        const string key = "eval.probe.grid";
        const string hint = "set eval.probe.grid to a list of positive numbers, e.g. [0.01, 0.1, 1, 10, 100]";
        var items = r.StringList(key);
        var grid = new double[items.Count];
        for (int i = 0; i < grid.Length; i++)
        {
            if (!double.TryParse(items[i], NumberStyles.Float, CultureInfo.InvariantCulture, out grid[i]) || !(grid[i] > 0) || double.IsInfinity(grid[i]))
                throw new UserError($"config '{key}' entry '{items[i]}' is not a positive number. HINT: {hint}");
        }
        if (grid.Length == 0) throw new UserError($"config '{key}' is empty. HINT: {hint}");
        return grid;
    }

    private sealed class Reader(Config config)
    {
        public string String(string path) => config.GetString(path);

        public string? OptionalString(string path)
        {
            if (config.GetValue(path) is HoconScalar { Kind: HoconScalarKind.Null }) return null;
            string s = config.GetString(path);
            return s.Length == 0 ? null : s;
        }

        public double Double(string path) => config.GetDouble(path);

        public IReadOnlyList<string> StringList(string path) => config.GetStringList(path);

        public bool Bool(string path) => config.GetBoolean(path);

        public TimeSpan Duration(string path) => config.GetDuration(path);

        public int Int(string path) => config.GetInt(path);

        public int Int(string path, int min, string hint)
        {
            int v = config.GetInt(path);
            if (v < min) throw Invalid(path, Text(path), $"must be >= {min}", hint);
            return v;
        }

        public ulong Seed(string path)
        {
            long v = config.GetLong(path);
            if (v < 0) throw Invalid(path, Text(path), "must be >= 0", $"seeds are unsigned: set {path} to a number >= 0, e.g. 1");
            return (ulong)v;
        }

        public string Text(string path) => config.GetValue(path) is HoconScalar s ? s.Text : config.GetValue(path).KindName;

        public string Where(string path) => RunConfigLoader.Where(config.GetValue(path).Origin);

        public UserError Invalid(string path, string value, string rule, string hint) =>
            new($"config '{path}' = {value} at {Where(path)} {rule}. HINT: {hint}");
    }

    /// <summary>
    /// Canonical JSON (sorted keys, invariant culture, round-trip numbers) of exactly the settings that decide
    /// the weights: all of model, all of data except its folder, all of train. A checkpoint stores it and a
    /// resume compares it, so a run cannot silently continue under different optimisation settings.
    /// </summary>
    public static string IdentityJson(RunConfig c)
    {
        var identity = new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["model"] = new SortedDictionary<string, object>(StringComparer.Ordinal)
            {
                ["layers"] = c.Model.Layers,
                ["width"] = c.Model.Width,
                ["heads"] = c.Model.Heads,
                ["vocab"] = c.Model.Vocab,
                ["side"] = c.Model.Side,
                ["classes"] = c.Model.Classes,
                ["objective"] = c.Model.Objective == Objective.Bert ? "bert" : "autoregressive",
                ["seed"] = c.Model.Seed,
            },
            ["data"] = new SortedDictionary<string, object>(StringComparer.Ordinal)
            {
                ["set"] = c.Data.Set,
                ["limit"] = c.Data.Limit,
                ["validation-fraction"] = c.Data.ValidationFraction,
                ["split-seed"] = c.Data.SplitSeed,
                ["palette"] = new SortedDictionary<string, object>(StringComparer.Ordinal)
                {
                    ["clusters"] = c.Data.PaletteClusters,
                    ["sample-pixels"] = c.Data.PaletteSamplePixels,
                    ["iterations"] = c.Data.PaletteIterations,
                    ["seed"] = c.Data.PaletteSeed,
                },
            },
            ["train"] = new SortedDictionary<string, object>(StringComparer.Ordinal)
            {
                ["batch"] = c.Train.Batch,
                ["shards"] = c.Train.Shards,
                ["lr"] = c.Train.Lr,
                ["warmup"] = c.Train.Warmup,
                ["steps"] = c.Train.Steps,
                ["beta1"] = c.Train.Beta1,
                ["beta2"] = c.Train.Beta2,
                ["weight-decay"] = c.Train.WeightDecay,
                ["clip"] = c.Train.Clip,
                ["seed"] = c.Train.Seed,
            },
        };
        var sb = new StringBuilder();
        WriteCanonical(sb, identity);
        return sb.ToString();
    }

    private static void WriteCanonical(StringBuilder sb, object value)
    {
        switch (value)
        {
            case SortedDictionary<string, object> o:
                sb.Append('{');
                bool first = true;
                foreach ((string key, object v) in o)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    sb.Append(JsonSerializer.Serialize(key)).Append(':');
                    WriteCanonical(sb, v);
                }
                sb.Append('}');
                break;
            case string s: sb.Append(JsonSerializer.Serialize(s)); break;
            case int i: sb.Append(i.ToString(CultureInfo.InvariantCulture)); break;
            case ulong u: sb.Append(u.ToString(CultureInfo.InvariantCulture)); break;
            // "R" is the shortest text that parses back to the same double, so equal settings give equal JSON.
            case double d: sb.Append(d.ToString("R", CultureInfo.InvariantCulture)); break;
            default: throw new ArgumentException($"no canonical JSON for {value.GetType()}", nameof(value));
        }
    }

    /// <summary>
    /// The settings in which two <see cref="IdentityJson"/> texts differ, as "train.lr: 0.003 -> 0.001"
    /// (a setting only one side has shows as "(absent)"); empty when they decide the same weights.
    /// </summary>
    public static IReadOnlyList<string> IdentityDifferences(string a, string b)
    {
        Dictionary<string, string> left = Flatten(a), right = Flatten(b);
        var differences = new List<string>();
        foreach (string key in left.Keys.Union(right.Keys).Order(StringComparer.Ordinal))
        {
            string l = left.GetValueOrDefault(key, "(absent)"), r = right.GetValueOrDefault(key, "(absent)");
            if (l != r) differences.Add($"{key}: {l} -> {r}");
        }
        return differences;
    }

    private static Dictionary<string, string> Flatten(string json)
    {
        var flat = new Dictionary<string, string>(StringComparer.Ordinal);
        using JsonDocument doc = JsonDocument.Parse(json);
        void Add(JsonElement e, string prefix)
        {
            if (e.ValueKind == JsonValueKind.Object)
                foreach (JsonProperty p in e.EnumerateObject()) Add(p.Value, prefix.Length == 0 ? p.Name : $"{prefix}.{p.Name}");
            else
                flat[prefix] = e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText();
        }
        Add(doc.RootElement, "");
        return flat;
    }

    private static string Count(int n, string noun) => string.Create(CultureInfo.InvariantCulture, $"{n} {noun}{(n == 1 ? "" : "s")}");

    /// <summary>A compact multi-line summary of the effective configuration and its derived numbers, printed at the start of a run.</summary>
    public static string Describe(RunConfig c)
    {
        var inv = CultureInfo.InvariantCulture;
        GptConfig m = c.Model;
        DataSettings d = c.Data;
        TrainSettings t = c.Train;
        RuntimeSettings rt = c.Runtime;
        CheckpointSettings ck = c.Checkpoint;
        EvalSettings e = c.Eval;
        long tokensPerStep = (long)t.Batch * m.Seq;
        var sb = new StringBuilder();
        sb.AppendLine($"model:      {m.Describe()}");
        sb.AppendLine(string.Create(inv,
            $"data:       {d.Set} from {d.Dir ?? "(default search: cache, /usr/share/datasets, provisioning)"}, " +
            $"{(d.Limit == 0 ? "all training images" : $"first {d.Limit} training images")}, validation {d.ValidationFraction * 100:0.##}% (split seed {d.SplitSeed}), " +
            $"palette {d.PaletteClusters} clusters ({d.PaletteSamplePixels:N0} pixels, {d.PaletteIterations} iterations, seed {d.PaletteSeed})"));
        sb.AppendLine(string.Create(inv,
            $"train:      {t.Steps:N0} steps of {t.Batch} images in {t.Shards} shards = {tokensPerStep:N0} tokens/step, " +
            $"{m.TrainingFlopsPerToken * tokensPerStep / 1e9:F2} GFLOP/step; lr {t.Lr:R}, warmup {t.Warmup} then cosine to 0; " +
            $"Adam beta1 {t.Beta1:R} beta2 {t.Beta2:R}, weight decay {t.WeightDecay:R}, clip {(t.Clip == 0 ? "off" : t.Clip.ToString("R", inv))}, seed {t.Seed}"));
        sb.AppendLine(string.Create(inv,
            $"runtime:    {Count(rt.Trainers, "trainer")} x {Count(rt.ThreadsPerTrainer, "thread")}, backend {rt.Backend.Name()} on {rt.Device}, prefetch {rt.Prefetch}, step deadline {rt.StepDeadline.TotalSeconds:0.###}s, " +
            $"restarts backoff {rt.RestartMinBackoff.TotalSeconds:0.###}s..{rt.RestartMaxBackoff.TotalSeconds:0.###}s, at most {rt.MaxRestarts} per child within {rt.RestartWindow.TotalSeconds:0.###}s"));
        sb.AppendLine(string.Create(inv,
            $"checkpoint: every {ck.Every} steps, keep {(ck.Keep == 0 ? "all" : ck.Keep.ToString(inv))}, store {(ck.Store == "sqlite" ? $"sqlite ({Path.Combine(c.RunDir, "run.db")})" : "postgres")}, " +
            $"safetensors export {(ck.ExportSafetensors ? "on" : "off")}"));
        sb.AppendLine(e.Enabled
            ? string.Create(inv,
                $"eval:       validation loss on {e.ValidationImages} images; probe train/validation/test {e.ProbeTrain}/{e.ProbeValidation}/{e.ProbeTest} over C in [{string.Join(", ", e.ProbeGrid.Select(g => g.ToString("G4", CultureInfo.InvariantCulture)))}]; " +
                $"completions {e.Completions} x {e.CompletionsPerImage}; {Count(e.Threads, "thread")}, seed {e.Seed}")
            : "eval:       off");
        sb.AppendLine(string.Create(inv, $"log:        every {c.Log.Every} steps"));
        sb.Append($"run:        {c.RunDir} (id {c.RunId})");
        return sb.ToString();
    }
}
