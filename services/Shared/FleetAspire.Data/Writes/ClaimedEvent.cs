using System.Text.Json;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data.Outbox;

namespace FleetAspire.Data.Writes;

/// <summary>
/// The <see cref="MachineClaimed"/> outbox row a claim statement writes. The claim is one statement (ADR 0019) that
/// chooses the machine, so the event cannot be finished before it runs: the serializer writes the document from the
/// contract record — names, date format, every field — with the chosen machine's fields left empty, and the statement
/// only sets those by the paths the serializer's naming policy gives them
/// (<c>jsonb_set(@event_payload, @machine_id_path, …)</c>). No field name or format is written twice.
/// </summary>
public static class ClaimedEvent
{
    public static readonly string MessageType = typeof(MachineClaimed).FullName!;

    /// <summary>The path of <see cref="MachineClaimed.MachineId"/> in the serialized document.</summary>
    public static readonly string[] MachineIdPath = [JsonName(nameof(MachineClaimed.MachineId))];

    /// <summary>The path of <see cref="MachineClaimed.ProviderMachineId"/> in the serialized document.</summary>
    public static readonly string[] ProviderMachineIdPath = [JsonName(nameof(MachineClaimed.ProviderMachineId))];

    /// <summary>The event as the serializer writes it, the machine the statement will choose not filled in yet.</summary>
    public static string Template(ClaimRequest request) => JsonSerializer.Serialize(
        new MachineClaimed { AgentId = request.AgentId, MachineId = string.Empty, ProviderMachineId = string.Empty, ClaimedAt = request.Now },
        OutboxSerializer.Options);

    private static string JsonName(string property) => OutboxSerializer.Options.PropertyNamingPolicy?.ConvertName(property) ?? property;
}
