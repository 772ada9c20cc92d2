using ImageGpt.Nn.Data;
using ImageGpt.Nn.IO;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Eval;

/// <summary>
/// What evaluation needs from a training run: the weights (safetensors, the GptConfig in its
/// __metadata__) and the palette the run's tokens were made with. Loading checks that the two belong
/// together, so a mismatch fails with one line naming both files instead of garbage accuracies.
/// </summary>
public sealed class EvalBundle
{
    public string WeightsPath { get; }
    public string PalettePath { get; }
    public GptConfig Config => Parameters.Config;
    public ParameterSlab Parameters { get; }
    public Palette.Palette Palette { get; }

    private EvalBundle(string weightsPath, string palettePath, ParameterSlab parameters, Palette.Palette palette) =>
        (WeightsPath, PalettePath, Parameters, Palette) = (weightsPath, palettePath, parameters, palette);

    public static EvalBundle Load(string weightsPath, string palettePath)
    {
        if (!File.Exists(weightsPath))
            throw new UserError($"weights file '{weightsPath}' not found. HINT: pass the .safetensors checkpoint of a training run with --weights");
        if (!File.Exists(palettePath))
            throw new UserError($"palette file '{palettePath}' not found. HINT: pass the palette JSON saved with the run (the one used to tokenize its data) with --palette");
        var config = SafeTensors.ReadConfig(weightsPath);
        var palette = ImageGpt.Nn.Palette.Palette.Load(palettePath);
        if (palette.Count != config.Vocab)
            throw new UserError($"checkpoint {weightsPath} has vocabulary {config.Vocab} but palette {palettePath} has {palette.Count} colours. HINT: use the palette file saved with the same training run as the weights");
        ParameterSlab slab;
        if (config.Classes > 0 && !SafeTensors.TensorNames(weightsPath).Contains("clf"))
        {
            // The metadata names a class count but the file carries no head: load the body and let
            // fine-tuning add a zero head.
            slab = new ParameterSlab(config with { Classes = 0 });
            SafeTensors.LoadInto(weightsPath, slab);
        }
        else slab = SafeTensors.Load(weightsPath);
        return new EvalBundle(weightsPath, palettePath, slab, palette);
    }

    /// <summary>Rejects a data set this checkpoint cannot read: other channels, or smaller images than the model's side.</summary>
    public void CheckData(DataSet set)
    {
        if (set.Channels != Palette.Channels)
            throw new UserError($"data set {set.Name} has {set.Channels} channel(s) but palette {PalettePath} has {Palette.Channels}. HINT: evaluate on the data set the run was trained on (--dataset)");
        if (set.Side < Config.Side)
            throw new UserError($"data set {set.Name} has {set.Side}x{set.Side} images, smaller than the model's {Config.Side}x{Config.Side} (checkpoint {WeightsPath}). HINT: evaluate on the data set the run was trained on (--dataset)");
    }

    /// <summary>
    /// The parameters with a classifier for <paramref name="classes"/> classes: a copy of the loaded
    /// ones when the head already has that size; otherwise every other tensor copied and a zero
    /// `clf` (the paper's init), since a head for another label set is meaningless here.
    /// </summary>
    public ParameterSlab WithClassifier(int classes)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes));
        var target = new ParameterSlab(Config with { Classes = classes });
        foreach (var slot in target.Slots)
        {
            if (slot.Name == "clf" && Config.Classes != classes) continue;
            Parameters.Span(Parameters.Slot(slot.Name)).CopyTo(target.Span(slot));
        }
        return target;
    }
}
