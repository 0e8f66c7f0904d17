namespace FleetAspire.Data.MachineTransition.Shadow;

/// <summary>
/// The check of a committed dual-write: the legacy rows the transaction wrote and the Machine rows the dual-write made
/// of them, read back and compared with the verifier's comparator (source <c>write-check</c>). Runs on the shadow
/// worker after the commit, never on the request path; a write committed since by another transaction can make it see
/// a later state (a false alarm the next scan clears).
/// </summary>
public static class WriteCheck
{
    /// <summary>The legacy machine ids the transaction's change-log rows name.</summary>
    private const string TransactionIds = """
        SELECT a.machine_id AS legacy_id FROM legacy_changes ch JOIN agents a ON a.id = ch.entity_id
        WHERE ch.txid = @txid AND ch.entity = 'agents' AND a.machine_id IS NOT NULL
        UNION SELECT p.machine_id FROM legacy_changes ch JOIN parked_machines p ON p.id = ch.entity_id
        WHERE ch.txid = @txid AND ch.entity = 'parked_machines' AND p.machine_id IS NOT NULL
        UNION SELECT ch.entity_id FROM legacy_changes ch WHERE ch.txid = @txid AND ch.entity = 'custom_machines'
        """;

    /// <summary>The work for one committed transaction.</summary>
    public static Func<IServiceProvider, CancellationToken, Task<ShadowResult>> For(long txid) =>
        (services, cancellationToken) => MachineShadow.CompareMachinesAsync(services, TransactionIds, "txid", txid, cancellationToken);
}
