using FleetAspire.Data;

namespace FleetAspire.Messaging;

/// <summary>Wakes this process's outbox dispatcher right after a commit that wrote outbox rows.</summary>
public sealed class OutboxSignal : WakeSignal;
