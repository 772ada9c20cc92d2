using System.Diagnostics;
using System.Globalization;
using ImageGpt.Actors.Runtime;
using ImageGpt.Nn.IO;
using ImageGpt.Nn.Model;

namespace ImageGpt.Actors.Training;

/// <summary>
/// Writes each checkpoint in one transaction of the run's store, prunes old ones, exports the weights
/// as step-N.safetensors, then tells the sender and publishes <see cref="CheckpointSaved"/> on the event
/// stream (the evaluator's trigger). A failed write is reported, not
/// thrown: the previous checkpoint stays the one a resume uses.
/// </summary>
public sealed class CheckpointWriter : ReceiveActor
{
    public CheckpointWriter(IRunStore store, GptConfig config, string runDir, int keep, bool exportSafetensors)
    {
        ReceiveAsync<SaveCheckpoint>(async m =>
        {
            var c = m.Checkpoint;
            var sw = Stopwatch.StartNew();
            try
            {
                await store.SaveCheckpointAsync(c);
                if (keep > 0) await store.PruneCheckpointsAsync(keep);
                if (exportSafetensors) Export(c, config, runDir, keep);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Sender.Tell(new CheckpointFailed(c.Step, m.Final, $"{e.GetType().Name}: {e.Message}"), Self);
                return;
            }
            var saved = new CheckpointSaved(c.Step, c.Parameters, m.Final, sw.Elapsed.TotalSeconds);
            Sender.Tell(saved, Self);
            Context.System.EventStream.Publish(saved);
        });
    }

    /// <summary>Where the weights of step <paramref name="step"/> are exported.</summary>
    public static string WeightsPath(string runDir, long step) =>
        Path.Combine(runDir, string.Create(CultureInfo.InvariantCulture, $"step-{step}.safetensors"));

    private static void Export(Checkpoint c, GptConfig config, string runDir, int keep)
    {
        var slab = new ParameterSlab(config);
        c.Parameters.CopyTo(slab.Data, 0);
        string path = WeightsPath(runDir, c.Step);
        string tmp = path + ".tmp";
        SafeTensors.Save(tmp, slab, new Dictionary<string, string> { ["step"] = c.Step.ToString(CultureInfo.InvariantCulture) });
        File.Move(tmp, path, overwrite: true);
        if (keep <= 0) return;
        var old = Directory.GetFiles(runDir, "step-*.safetensors")
            .Select(f => (File: f, Step: long.TryParse(Path.GetFileNameWithoutExtension(f)[5..], NumberStyles.None, CultureInfo.InvariantCulture, out long s) ? s : -1))
            .Where(x => x.Step >= 0).OrderByDescending(x => x.Step).Skip(keep);
        foreach (var (file, _) in old) File.Delete(file);
    }
}
