using System.Globalization;
using System.Text.Json;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Training;
using ImageGpt.Nn;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>
/// The strict run-configuration loader against the shipped hocon/*.conf files (copied beside the tests)
/// and the rules written in reference.conf's comments.
/// </summary>
public sealed class RunConfigLoaderTests : IDisposable
{
    private static readonly string HoconDir = Path.Combine(AppContext.BaseDirectory, "hocon");
    private readonly string _dir = Directory.CreateTempSubdirectory("run-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Config Reference() => ConfigFactory.ParseFile(Path.Combine(HoconDir, "reference.conf"));

    private static string? NoEnvironment(string name) => null;

    private static RunConfig Load(params string[] sets) => RunConfigLoader.Load(Reference(), null, sets, null, NoEnvironment);

    private static RunConfig LoadFile(string file, params string[] sets) => RunConfigLoader.Load(Reference(), file, sets, null, NoEnvironment);

    private static UserError Fails(params string[] sets)
    {
        var e = Assert.Throws<UserError>(() => Load(sets));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("HINT:", e.Message);
        return e;
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void TheReferenceLoadsToTheDocumentedDefaults()
    {
        RunConfig c = Load();
        Assert.Equal(new GptConfig(8, 64, 4, 16, 14, 0, Objective.Autoregressive, 1), c.Model);
        Assert.Equal(new DataSettings("fashion-mnist", null, 0, 0.1, 20200612, 16, 1_000_000, 100, 1), c.Data);
        Assert.Equal(new TrainSettings(32, 2, 3e-3, 100, 3000, 0.9, 0.95, 0, 1.0, 1), c.Train);
        Assert.Equal(new RuntimeSettings(Math.Max(1, Environment.ProcessorCount), 1, 4, TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), 10, TimeSpan.FromMinutes(1)), c.Runtime);
        Assert.Equal(new CheckpointSettings(500, 3, "sqlite", "", true), c.Checkpoint);
        Assert.Equal(new EvalSettings(true, 1000, 2000, 500, 1000, 8, 3, 1, 1, c.Eval.ProbeGrid), c.Eval);
        Assert.Equal([0.01, 0.1, 1, 10, 100], c.Eval.ProbeGrid);
        Assert.Equal(new LogSettings(50), c.Log);
        Assert.Equal("runs/default", c.RunDir);
        Assert.Equal("default", c.RunId);
    }

    [Fact]
    public void TheFashionMnistRunHasTheDefaultModelAndItsOwnScheduleAndFolder()
    {
        RunConfig c = LoadFile(Path.Combine(HoconDir, "fashion-mnist.conf"));
        Assert.Equal(new GptConfig(8, 128, 4, 16, 14, 0, Objective.Autoregressive, 1), c.Model);
        Assert.Equal("fashion-mnist", c.Data.Set);
        Assert.Equal(16, c.Data.PaletteClusters);
        Assert.Equal(new TrainSettings(32, 2, 1e-3, 100, 2350, 0.9, 0.95, 0, 1.0, 1), c.Train);
        Assert.Equal(1175, c.Checkpoint.Every);
        Assert.Equal(Load().Eval with { ProbeGrid = c.Eval.ProbeGrid }, c.Eval);
        Assert.Equal(Load().Eval.ProbeGrid, c.Eval.ProbeGrid);
        Assert.Equal("runs/fashion-mnist", c.RunDir);
    }

    [Fact]
    public void TheLongFashionMnistRunIsTheStudys60MinuteRecipeWhateverTheDefaultRunsLearningRate()
    {
        RunConfig c = LoadFile(Path.Combine(HoconDir, "fashion-mnist-long.conf"));
        Assert.Equal(new GptConfig(8, 128, 4, 16, 14, 0, Objective.Autoregressive, 1), c.Model);
        Assert.Equal(new TrainSettings(32, 2, 3e-3, 100, 7500, 0.9, 0.95, 0, 1.0, 1), c.Train);
        Assert.Equal(1875, c.Checkpoint.Every);
        Assert.Equal("runs/fashion-mnist-long", c.RunDir);
    }

    [Fact]
    public void TheCifar10RunUses32x32TokensAndA512ColourPalette()
    {
        RunConfig c = LoadFile(Path.Combine(HoconDir, "cifar10.conf"));
        Assert.Equal("cifar-10", c.Data.Set);
        Assert.Equal((32, 512, 512), (c.Model.Side, c.Model.Vocab, c.Data.PaletteClusters));
        Assert.Equal((8, 256, 8), (c.Model.Layers, c.Model.Width, c.Model.Heads));
        Assert.Equal(64, c.Train.Batch);
        Assert.Equal("runs/cifar10", c.RunDir);
    }

    [Fact]
    public void TheIgptSRunHasThePapersSizesAndOptimisation()
    {
        RunConfig c = LoadFile(Path.Combine(HoconDir, "igpt-s.conf"));
        Assert.Equal((24, 512, 8, 32, 512), (c.Model.Layers, c.Model.Width, c.Model.Heads, c.Model.Side, c.Model.Vocab));
        Assert.Equal(1024, c.Model.Seq);
        // IGPT.md: iGPT-S has 76M parameters.
        Assert.Equal(76, (int)(c.Model.ParameterCount / 1_000_000));
        Assert.Equal(512, c.Data.PaletteClusters);
        Assert.Equal((128, 3e-3, 1_000_000, 0.9, 0.95, 0.0), (c.Train.Batch, c.Train.Lr, c.Train.Steps, c.Train.Beta1, c.Train.Beta2, c.Train.WeightDecay));
        // One epoch of warm-up: 45,000 CIFAR-10 training images at batch 128, rounded up.
        Assert.Equal((45_000 + 127) / 128, c.Train.Warmup);
        Assert.Equal("runs/igpt-s", c.RunDir);
    }

    [Fact]
    public void EveryShippedConfFileLoadsWithoutError()
    {
        string[] files = Directory.GetFiles(HoconDir, "*.conf");
        Assert.Contains(files, f => Path.GetFileName(f) == "fashion-mnist.conf");
        foreach (string file in files)
        {
            RunConfig c = LoadFile(file);
            Assert.False(string.IsNullOrEmpty(c.RunDir), file);
        }
    }

    [Fact]
    public void SetOverridesBeatTheFileAndRunDirOverrideBeatsBoth()
    {
        string file = Write("run.conf", "train.steps = 50\ntrain.warmup = 10\nrun.dir = runs/from-file\n");
        RunConfig c = LoadFile(file, "train.steps=20", "train.warmup=5", "data.limit=256", "runtime.trainers=2", "checkpoint.every=5", "eval.enabled=false");
        Assert.Equal(20, c.Train.Steps);
        Assert.Equal(256, c.Data.Limit);
        Assert.Equal(2, c.Runtime.Trainers);
        Assert.Equal(5, c.Checkpoint.Every);
        Assert.False(c.Eval.Enabled);
        Assert.Equal("runs/from-file", c.RunDir);
        Assert.Equal("runs/from-set", LoadFile(file, "run.dir=runs/from-set").RunDir);
        Assert.Equal("elsewhere/x", RunConfigLoader.Load(Reference(), file, ["run.dir=runs/from-set"], "elsewhere/x", NoEnvironment).RunDir);
    }

    [Fact]
    public void SubstitutionsFollowOverrides()
    {
        RunConfig c = Load("model.seed=7", "model.vocab=32");
        Assert.Equal(7UL, c.Train.Seed);
        Assert.Equal(32, c.Data.PaletteClusters);
    }

    [Fact]
    public void AnUnknownKeyInTheFileNamesTheFileLineKeyAndClosestKnownKey()
    {
        string file = Write("typo.conf", "model.layers = 4\ntrain {\n  lrr = 1e-3\n}\n");
        var e = Assert.Throws<UserError>(() => LoadFile(file));
        Assert.Equal($"unknown setting 'train.lrr' at {file}:3. HINT: did you mean 'train.lr'? every setting is listed in hocon/reference.conf", e.Message);
    }

    [Fact]
    public void AnUnknownKeyInASetNamesTheSetAndClosestKnownKey()
    {
        UserError e = Fails("model.layer=3");
        Assert.Contains("unknown setting 'model.layer'", e.Message);
        Assert.Contains("--set 'model.layer=3'", e.Message);
        Assert.Contains("did you mean 'model.layers'?", e.Message);
        Assert.Contains("every setting is listed in hocon/reference.conf", e.Message);
    }

    [Fact]
    public void ASettingInTheWrongSectionSuggestsTheSectionThatHasIt()
    {
        Assert.Contains("did you mean 'train.lr'?", Fails("model.lr=1e-3").Message);
        Assert.Contains("did you mean 'checkpoint.every'?", Fails("checkpoint.evry=5").Message);
    }

    [Theory]
    [InlineData("train.warm-up=10", "train.warmup")]
    [InlineData("train.weightdecay=0", "train.weight-decay")]
    [InlineData("eval.probe.tset=0", "eval.probe.test")]
    [InlineData("runtime.trainer=2", "runtime.trainers")]
    [InlineData("data.palette.cluster=16", "data.palette.clusters")]
    [InlineData("steps=20", "train.steps")]
    public void CommonTyposSuggestTheIntendedKey(string set, string intended) =>
        Assert.Contains($"did you mean '{intended}'?", Fails(set).Message);

    [Fact]
    public void AnUnknownSectionNamesItsFirstSettingAndAFarFetchedKeyGetsNoSuggestion()
    {
        UserError e = Fails("cluster.seed-nodes=[a]");
        Assert.Contains("unknown setting 'cluster.seed-nodes'", e.Message);
        e = Fails("zzzzzzzzzzzzzzzz=1");
        Assert.Contains("unknown setting 'zzzzzzzzzzzzzzzz'", e.Message);
        Assert.DoesNotContain("did you mean", e.Message);
    }

    [Theory]
    [InlineData("train.batch=many", "train.batch", "\"many\"", "an integer")]
    [InlineData("train.batch=2.5", "train.batch", "2.5", "an integer")]
    [InlineData("train.lr=fast", "train.lr", "\"fast\"", "a number")]
    [InlineData("eval.enabled=maybe", "eval.enabled", "\"maybe\"", "a boolean")]
    [InlineData("runtime.step-deadline=soon", "runtime.step-deadline", "\"soon\"", "a duration")]
    [InlineData("train.steps=null", "train.steps", "null", "an integer")]
    public void AWrongTypeNamesTheKeyTheValueAndWhereItCameFrom(string set, string key, string value, string expected)
    {
        UserError e = Fails(set);
        Assert.Contains($"'{key}'", e.Message);
        Assert.Contains(value, e.Message);
        Assert.Contains($"--set '{set}'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AValueWhereASectionBelongsOrASectionWhereAValueBelongsIsAnError()
    {
        Assert.StartsWith("config 'log' at --set 'log=5' is a number (5); expected a section with the keys every.", Fails("log=5").Message);
        // model is referenced by reference.conf's substitutions, which then fail first, naming what they need.
        Assert.Contains("model.vocab", Fails("model=5").Message);
        Assert.StartsWith("config 'train.lr' at --set 'train.lr={ peak = 1 }' is an object; expected a single value", Fails("train.lr={ peak = 1 }").Message);
        Assert.Contains("config 'train.lr'", Fails("train.lr={ peak = 1 }").Message);
    }

    [Theory]
    [InlineData("train.batch=0", "train.batch")]
    [InlineData("train.shards=0", "train.shards")]
    [InlineData("train.shards=33", "train.shards")]
    [InlineData("train.lr=0", "train.lr")]
    [InlineData("train.lr=-1e-3", "train.lr")]
    [InlineData("train.warmup=-1", "train.warmup")]
    [InlineData("train.steps=0", "train.steps")]
    [InlineData("train.warmup=3001", "train.warmup")]
    [InlineData("train.beta1=1", "train.beta1")]
    [InlineData("train.beta1=-0.1", "train.beta1")]
    [InlineData("train.beta2=1.0", "train.beta2")]
    [InlineData("train.weight-decay=-0.01", "train.weight-decay")]
    [InlineData("train.clip=-1", "train.clip")]
    [InlineData("train.seed=-1", "train.seed")]
    [InlineData("data.limit=-1", "data.limit")]
    [InlineData("data.validation-fraction=0", "data.validation-fraction")]
    [InlineData("data.validation-fraction=0.6", "data.validation-fraction")]
    [InlineData("data.set=imagenet", "data.set")]
    [InlineData("data.palette.sample-pixels=15", "data.palette.sample-pixels")]
    [InlineData("data.palette.iterations=0", "data.palette.iterations")]
    [InlineData("runtime.trainers=-1", "runtime.trainers")]
    [InlineData("runtime.threads-per-trainer=0", "runtime.threads-per-trainer")]
    [InlineData("runtime.prefetch=0", "runtime.prefetch")]
    [InlineData("runtime.step-deadline=0s", "runtime.step-deadline")]
    [InlineData("runtime.restart.min-backoff=0ms", "runtime.restart.min-backoff")]
    [InlineData("runtime.restart.max-backoff=0ms", "runtime.restart.max-backoff")]
    [InlineData("runtime.restart.min-backoff=20s", "runtime.restart.min-backoff")]
    [InlineData("runtime.restart.max-restarts=-1", "runtime.restart.max-restarts")]
    [InlineData("checkpoint.every=0", "checkpoint.every")]
    [InlineData("checkpoint.keep=-1", "checkpoint.keep")]
    [InlineData("checkpoint.store=mysql", "checkpoint.store")]
    [InlineData("checkpoint.store=postgres", "checkpoint.postgres")]
    [InlineData("eval.validation-images=-1", "eval.validation-images")]
    [InlineData("eval.probe.train=19", "eval.probe.train")]
    [InlineData("eval.probe.validation=5", "eval.probe.validation")]
    [InlineData("eval.probe.test=-1", "eval.probe.test")]
    [InlineData("eval.completions.images=-1", "eval.completions.images")]
    [InlineData("eval.completions.per-image=-1", "eval.completions.per-image")]
    [InlineData("eval.threads=0", "eval.threads")]
    [InlineData("log.every=0", "log.every")]
    [InlineData("model.objective=diffusion", "model.objective")]
    [InlineData("runtime.backend=tensorflow", "runtime.backend")]
    [InlineData("runtime.device=gpu", "runtime.device")]
    [InlineData("runtime.device=\"cuda:x\"", "runtime.device")]
    [InlineData("runtime.device=\"cuda:-1\"", "runtime.device")]
    [InlineData("runtime.device=cuda", "runtime.device")]
    [InlineData("run.dir=\"\"", "run.dir")]
    public void EachOutOfRangeValueIsAUserErrorNamingTheKeyAndWhereItWasSet(string set, string key)
    {
        UserError e = Fails(set);
        Assert.StartsWith($"config '{key}' = ", e.Message);
        Assert.Contains(" at ", e.Message);
    }

    [Theory]
    [InlineData("train.batch=1", "train.shards=1")]
    [InlineData("train.shards=32")]
    [InlineData("train.warmup=0")]
    [InlineData("train.warmup=3000")]
    [InlineData("train.beta1=0", "train.beta2=0.999")]
    [InlineData("train.clip=0")]
    [InlineData("data.validation-fraction=0.5")]
    [InlineData("eval.probe.train=0", "eval.probe.validation=20", "eval.probe.test=0")]
    [InlineData("checkpoint.keep=0", "runtime.trainers=1")]
    [InlineData("runtime.restart.min-backoff=10s")]
    [InlineData("checkpoint.store=postgres", "checkpoint.postgres=\"Host=db;Database=igpt\"")]
    public void ValuesAtTheEdgesOfTheirRangesAreAccepted(params string[] sets) => Load(sets);

    [Fact]
    public void ModelValidationRejectsAWidthThatHeadsDoNotDivide()
    {
        var e = Assert.Throws<UserError>(() => Load("model.width=30"));
        Assert.Contains("not divisible by heads", e.Message);
    }

    [Fact]
    public void PaletteClustersMustEqualTheVocabulary()
    {
        UserError e = Fails("data.palette.clusters=32");
        Assert.Contains("'data.palette.clusters' = 32", e.Message);
        Assert.Contains("model.vocab = 16", e.Message);
        Assert.Equal(32, Load("model.vocab=32", "data.palette.clusters=32").Data.PaletteClusters);
    }

    [Fact]
    public void ObjectiveAndDataSetNamesAreCaseInsensitiveAndStoredCanonically()
    {
        RunConfig c = Load("model.objective=BERT", "data.set=FASHION-MNIST");
        Assert.Equal(Objective.Bert, c.Model.Objective);
        Assert.Equal("fashion-mnist", c.Data.Set);
    }

    [Fact]
    public void ZeroTrainersMeansOnePerThreadsPerTrainerCores()
    {
        Config reference = Reference().Resolve(NoEnvironment);
        RunConfig Auto(int processors, params string[] sets) =>
            RunConfigLoader.FromResolved(RunConfigLoader.Layer(reference, null, sets).Resolve(NoEnvironment), reference, null, processors);
        Assert.Equal(16, Auto(16).Runtime.Trainers);
        Assert.Equal(4, Auto(16, "runtime.threads-per-trainer=4").Runtime.Trainers);
        Assert.Equal(1, Auto(2, "runtime.threads-per-trainer=4").Runtime.Trainers);
        Assert.Equal(3, Auto(16, "runtime.trainers=3").Runtime.Trainers);
    }

    private static RunConfig WithGpus(int gpus, List<int>? asked, params string[] sets)
    {
        Config reference = Reference().Resolve(NoEnvironment);
        return RunConfigLoader.FromResolved(RunConfigLoader.Layer(reference, null, sets).Resolve(NoEnvironment), reference, null, 16,
            () => { asked?.Add(gpus); return gpus; });
    }

    [Fact]
    public void BackendAndDeviceAreReadAndOnlyTheTorchBackendAsksLibtorch()
    {
        var asked = new List<int>();
        RunConfig nn = WithGpus(0, asked);
        Assert.Equal((ComputeBackend.Nn, ComputeDevice.Cpu), (nn.Runtime.Backend, nn.Runtime.Device));
        Assert.Empty(asked);
        RunConfig torch = WithGpus(0, asked, "runtime.backend=torch");
        Assert.Equal((ComputeBackend.Torch, ComputeDevice.Cpu, 16), (torch.Runtime.Backend, torch.Runtime.Device, torch.Runtime.Trainers));
        Assert.Single(asked);
        Assert.Contains("16 trainers x 1 thread, backend torch on cpu, prefetch", RunConfigLoader.Describe(torch));
    }

    [Fact]
    public void OnCudaZeroTrainersMeansOnePerGpuOrOneOnTheGpuNamed()
    {
        Assert.Equal(3, WithGpus(3, null, "runtime.backend=torch", "runtime.device=cuda").Runtime.Trainers);
        RunConfig one = WithGpus(3, null, "runtime.backend=torch", "runtime.device=\"cuda:2\"");
        Assert.Equal((1, new ComputeDevice(true, 2)), (one.Runtime.Trainers, one.Runtime.Device));
        Assert.Equal(5, WithGpus(3, null, "runtime.backend=torch", "runtime.device=cuda", "runtime.trainers=5").Runtime.Trainers);
    }

    [Theory]
    [InlineData(0, "cuda", "finds no CUDA device")]
    [InlineData(0, "\"cuda:0\"", "finds no CUDA device")]
    [InlineData(2, "\"cuda:2\"", "finds 2 CUDA devices (cuda:0..cuda:1)")]
    public void CudaThatIsNotThereIsOneLineNamingWhatWasFound(int gpus, string device, string found)
    {
        var e = Assert.Throws<UserError>(() => WithGpus(gpus, null, "runtime.backend=torch", $"runtime.device={device}"));
        Assert.StartsWith($"config 'runtime.device' = {device.Trim('"')} at --set", e.Message);
        Assert.Contains($"but libtorch {found}", e.Message);
        Assert.Contains("HINT:", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void DataDirComesFromTheEnvironmentUnlessTheUserSetsIt()
    {
        string? Env(string name) => name == "DATA_DIR" ? "/srv/data" : null;
        Assert.Equal("/srv/data", RunConfigLoader.Load(Reference(), null, [], null, Env).Data.Dir);
        Assert.Equal("/mine", RunConfigLoader.Load(Reference(), null, ["data.dir=/mine"], null, Env).Data.Dir);
        Assert.Null(Load().Data.Dir);
    }

    [Fact]
    public void IdentityIgnoresEverythingThatDoesNotDecideTheWeights()
    {
        string a = RunConfigLoader.IdentityJson(Load());
        string b = RunConfigLoader.IdentityJson(Load("runtime.trainers=3", "runtime.prefetch=9", "eval.enabled=false", "log.every=1",
            "checkpoint.every=7", "checkpoint.keep=0", "run.dir=other", "data.dir=/elsewhere"));
        Assert.Equal(a, b);
        Assert.Empty(RunConfigLoader.IdentityDifferences(a, b));
    }

    [Fact]
    public void IdentityDifferencesNameEachSettingThatChangesTheWeights()
    {
        string a = RunConfigLoader.IdentityJson(Load());
        string b = RunConfigLoader.IdentityJson(Load("train.lr=1e-3"));
        Assert.NotEqual(a, b);
        Assert.Equal(["train.lr: 0.003 -> 0.001"], RunConfigLoader.IdentityDifferences(a, b));
        string c = RunConfigLoader.IdentityJson(Load("data.limit=256", "model.seed=2"));
        Assert.Equal(["data.limit: 0 -> 256", "model.seed: 1 -> 2", "train.seed: 1 -> 2"], RunConfigLoader.IdentityDifferences(a, c));
    }

    [Fact]
    public void IdentityJsonIsCanonicalSortedAndRoundTripsNumbersInAnyCulture()
    {
        RunConfig c = Load("train.lr=0.30000000000000004");
        CultureInfo saved = CultureInfo.CurrentCulture;
        string json;
        try
        {
            // A decimal comma, as many cultures write numbers (the tests run in invariant-globalization mode, so no named culture).
            var comma = (CultureInfo)CultureInfo.InvariantCulture.Clone();
            comma.NumberFormat.NumberDecimalSeparator = ",";
            CultureInfo.CurrentCulture = comma;
            json = RunConfigLoader.IdentityJson(c);
        }
        finally { CultureInfo.CurrentCulture = saved; }
        Assert.Equal(json, RunConfigLoader.IdentityJson(c));
        using JsonDocument doc = JsonDocument.Parse(json);
        Assert.Equal(["data", "model", "train"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        JsonElement train = doc.RootElement.GetProperty("train");
        string[] keys = train.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(keys.Order(StringComparer.Ordinal), keys);
        Assert.Equal(0.30000000000000004, train.GetProperty("lr").GetDouble());
        Assert.False(doc.RootElement.GetProperty("data").TryGetProperty("dir", out _));
    }

    [Fact]
    public void DescribeSummarisesTheEffectiveConfigWithDerivedNumbers()
    {
        RunConfig c = Load("runtime.trainers=2", "eval.enabled=false");
        string text = RunConfigLoader.Describe(c);
        Assert.Contains(c.Model.Describe(), text);
        Assert.Contains("3,000 steps of 32 images in 2 shards = 6,272 tokens/step", text);
        Assert.Contains("2 trainers x 1 thread,", text);
        Assert.Contains("validation 10% (split seed 20200612)", text);
        Assert.Contains("eval:       off", text);
        Assert.EndsWith("run:        runs/default (id default)", text);
    }

    [Fact]
    public void The_probe_grid_is_a_list_of_positive_numbers()
    {
        Assert.Equal([1.0, 10.0], Load("eval.probe.grid=[1, 10]").Eval.ProbeGrid);
        Assert.Contains("eval.probe.grid", Fails("eval.probe.grid=[1, -2]").Message);
        Assert.Contains("eval.probe.grid", Fails("eval.probe.grid=[1, abc]").Message);
        Assert.Contains("eval.probe.grid", Fails("eval.probe.grid=[]").Message);
    }
}
