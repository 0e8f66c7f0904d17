using FleetAspire.Data.MachineTransition.Phases;
using Microsoft.FeatureManagement;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// Feeds Microsoft.FeatureManagement from the phase stored in PostgreSQL: each storage flag is on or off for the
/// whole fleet. Never a percentage or targeting filter — a row written in one mode and read in another would diverge.
/// </summary>
public sealed class PhaseFeatureDefinitionProvider(PhaseCache cache) : IFeatureDefinitionProvider
{
    private static readonly FeatureFilterConfiguration[] On = [new() { Name = "AlwaysOn" }];

    public Task<FeatureDefinition> GetFeatureDefinitionAsync(string featureName) =>
        Task.FromResult(Define(featureName, cache.Current.Phase));

    public async IAsyncEnumerable<FeatureDefinition> GetAllFeatureDefinitionsAsync()
    {
        var phase = cache.Current.Phase;
        foreach (var flag in PhaseRules.Flags.All)
        {
            yield return Define(flag, phase);
        }

        await Task.CompletedTask;
    }

    internal static FeatureDefinition Define(string flag, TransitionPhase phase) => new()
    {
        Name = flag,
        EnabledFor = PhaseRules.IsEnabled(flag, phase) ? On : [],
    };
}
