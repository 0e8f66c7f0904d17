using System.Globalization;
using System.Text.RegularExpressions;

namespace FleetAspire.Data.MachineTransition.Verification;

/// <summary>One side of a machine as compared: the legacy model's expectation of it, or its Machine row.</summary>
public sealed record MachineSide(string Id, string Type, string? ProviderId, string? Ipv4, int Port, string Status, string? Owner, string? SharedKey);

/// <summary>One difference, as the verifier records it. A shared key's values are only ever "differs".</summary>
public sealed record FieldDivergence(string Field, string Kind, string? LegacyValue, string? MachineValue);

/// <summary>
/// The comparison the set-based verifier runs in SQL (<see cref="MachineVerifier"/>), in C#, for the shadow reads and
/// the write checks: the same fields, the same normal forms, the same kinds. One table of test vectors drives both
/// (<c>ComparatorVectorTests</c>), so they cannot drift apart unnoticed.
/// </summary>
public static partial class MachineComparator
{
    public const string SecretDiffers = "differs";

    /// <param name="fingerprint">The keyed HMAC fingerprint of a secret: keys are compared by it, never by value.</param>
    public static IReadOnlyList<FieldDivergence> Compare(MachineSide? legacy, MachineSide? machine, Func<string, string> fingerprint)
    {
        if (legacy is null && machine is null)
        {
            return [];
        }

        if (machine is null)
        {
            return [new FieldDivergence("*", DivergenceKinds.MissingInMachine, legacy!.Id, null)];
        }

        if (legacy is null)
        {
            return [new FieldDivergence("*", DivergenceKinds.MissingInLegacy, null, machine.Type)];
        }

        var differences = new List<FieldDivergence>();
        void Check(string field, string? legacyValue, string? machineValue)
        {
            if (!string.Equals(legacyValue, machineValue, StringComparison.Ordinal))
            {
                differences.Add(new FieldDivergence(field, DivergenceKinds.FieldMismatch, legacyValue, machineValue));
            }
        }

        Check("ipv4", NormalizeIpv4(legacy.Ipv4), NormalizeIpv4(machine.Ipv4));
        Check("port", legacy.Port.ToString(CultureInfo.InvariantCulture), machine.Port.ToString(CultureInfo.InvariantCulture));
        Check("type", legacy.Type, machine.Type);
        Check("provider_id", Blank(legacy.ProviderId), Blank(machine.ProviderId));
        Check("owner", Blank(legacy.Owner), Blank(machine.Owner));
        Check("status", legacy.Status, machine.Status);
        if (legacy.SharedKey is not null || machine.SharedKey is not null)
        {
            var legacyKey = legacy.SharedKey is null ? null : fingerprint(legacy.SharedKey);
            var machineKey = machine.SharedKey is null ? null : fingerprint(machine.SharedKey);
            if (!string.Equals(legacyKey, machineKey, StringComparison.Ordinal))
            {
                differences.Add(new FieldDivergence("shared_key", DivergenceKinds.FieldMismatch, SecretDiffers, SecretDiffers));
            }
        }

        return differences;
    }

    /// <summary>
    /// <c>fleet_norm_ipv4</c>: trimmed, empty as null, and a dotted quad (leading zeros allowed) in canonical form;
    /// anything else is compared as trimmed text.
    /// </summary>
    public static string? NormalizeIpv4(string? value)
    {
        var trimmed = Blank(value);
        if (trimmed is null || !DottedQuad().IsMatch(trimmed))
        {
            return trimmed;
        }

        return string.Join('.', trimmed.Split('.').Select(octet => int.Parse(octet, NumberStyles.None, CultureInfo.InvariantCulture)));
    }

    // SQL trim() removes spaces only.
    private static string? Blank(string? value) => value?.Trim(' ') is { Length: > 0 } trimmed ? trimmed : null;

    [GeneratedRegex(@"^(0*(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}0*(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$")]
    private static partial Regex DottedQuad();
}
