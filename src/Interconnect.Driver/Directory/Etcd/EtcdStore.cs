using System.Security.Cryptography;
using System.Text;
using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>
/// The cluster's keys in etcd (v3), under <c>/imc/{cluster}/</c>: the few operations the directory needs (read,
/// create-if-absent, compare-and-put, delete, leases, watches), each with a deadline. A call that etcd does not answer
/// in time fails with <see cref="DriverStatus.Timeout"/> naming the endpoints; a transaction either happened whole
/// or not at all, so a caller that times out retries or gives up with nothing half-done.
/// </summary>
internal sealed class EtcdStore : IDisposable
{
    private readonly EtcdClient _client;

    private long _answeredMs = Environment.TickCount64;
    private byte[]? _clusterKey; // read once: the key never changes while the cluster's keys exist
    private readonly Lazy<EtcdChangeBell> _changes;
    private volatile bool _answered;

    /// <summary>
    /// A store on <paramref name="endpoints"/>, with the TLS files of <c>IMC_ETCD_CA</c>, <c>IMC_ETCD_CERT</c>,
    /// <c>IMC_ETCD_KEY</c> for an <c>https://</c> directory (<see cref="EtcdConnection.FromEnvironment"/>): how a process
    /// that still holds a directory client of its own reaches etcd.
    /// </summary>
    public EtcdStore(string endpoints, string cluster, TimeSpan? timeout = null)
        : this(EtcdConnection.FromEnvironment(endpoints), cluster, timeout)
    {
    }

    public EtcdStore(EtcdConnection connection, string cluster, TimeSpan? timeout = null)
    {
        Connection = connection;
        Prefix = $"/imc/{cluster}/";
        _changes = new(() => new EtcdChangeBell(this));
        Timeout = timeout ?? TimeSpan.FromSeconds(5);
        // After etcd was away, gRPC reconnects with a backoff that grows to two minutes by default, failing calls fast
        // meanwhile: capped at a second, a directory operation soon after etcd is back reaches it (Call retries within
        // its deadline).
        _client = new EtcdClient(connection.Endpoints, configureChannelOptions: options =>
        {
            options.InitialReconnectBackoff = TimeSpan.FromMilliseconds(100);
            options.MaxReconnectBackoff = TimeSpan.FromSeconds(1);
            // No retries inside gRPC (dotnet-etcd's default policy sends a call again on Unavailable): Call retries, and
            // Transact must know when it did, or a transaction whose answer was lost reads as not committed.
            options.ServiceConfig?.MethodConfigs.Clear();
            // https://: TLS with the CA as etcd's only root and this machine's client certificate. dotnet-etcd dials
            // its endpoints through a resolver of its own, so the credentials (not the URL) choose TLS.
            connection.Configure(options);
        });
    }

    /// <summary>How this store reaches etcd: the endpoints and, for TLS, the certificates (also the streams').</summary>
    public EtcdConnection Connection { get; }

    public string Endpoints => Connection.Endpoints;

    /// <summary>The cluster's prefix, <c>/imc/{cluster}/</c>.</summary>
    public string Prefix { get; }

    /// <summary>How long one call may take before it fails with <see cref="DriverStatus.Timeout"/>.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>When etcd last answered a call (<see cref="Environment.TickCount64"/>): how long this process has been cut off.</summary>
    public long AnsweredMs => Volatile.Read(ref _answeredMs);

    /// <summary>Notes an answer of etcd that came other than through a call here (a stream's: <see cref="EtcdStreams"/>).</summary>
    public void NoteAnswer() => Volatile.Write(ref _answeredMs, Environment.TickCount64);

    /// <summary>
    /// Rings at each change under the cluster's prefix: one watch, made at the first use, shared by every wait on this
    /// store (in imcd, every process's requests).
    /// </summary>
    public EtcdChangeBell Changes => _changes.Value;

    public void Dispose()
    {
        if (_changes.IsValueCreated)
        {
            _changes.Value.Dispose();
        }

        _client.Dispose();
    }

    /// <summary>
    /// The cluster key (<see cref="EtcdKeys.ClusterKey"/>): 32 random bytes, made by the first caller when the cluster
    /// has none (a create-if-absent transaction, so concurrent first callers agree on one), read by every later one,
    /// and kept here. imcd holds it and hands it to its own registered processes only; it is never logged.
    /// </summary>
    public byte[] ClusterKey()
    {
        if (Volatile.Read(ref _clusterKey) is { } known)
        {
            return known;
        }

        var made = RandomNumberGenerator.GetBytes(Fabric.Ucx.NicMessages.KeyLength);
        _ = CreateAll(0, (EtcdKeys.ClusterKey, Convert.ToBase64String(made)));
        var entry = Get(EtcdKeys.ClusterKey) ?? throw new DriverException(DriverStatus.McError,
            $"the cluster key {Prefix}{EtcdKeys.ClusterKey} vanished from etcd as it was made: was the cluster removed meanwhile?");
        var key = new byte[Fabric.Ucx.NicMessages.KeyLength];
        if (!Convert.TryFromBase64String(entry.Value, key, out var length) || length != key.Length)
        {
            throw new DriverException(DriverStatus.McError,
                $"the cluster key {Prefix}{EtcdKeys.ClusterKey} in etcd is not {key.Length} bytes in base64: remove it " +
                "while no imcd of the cluster runs, and the first to start makes a new one");
        }

        Volatile.Write(ref _clusterKey, key); // any thread; every caller reads the same value
        return key;
    }

    /// <summary>The value and modification revision of <paramref name="key"/> (relative to the prefix), or null.</summary>
    public EtcdEntry? Get(string key)
    {
        var response = Call(() => _client.Get(new RangeRequest { Key = Bytes(key) }, deadline: Deadline()), "read", key);
        return response.Kvs.Count == 0 ? null : Entry(response.Kvs[0]);
    }

    /// <summary>Every key under <paramref name="prefix"/> (relative), with the store's revision at the reading.</summary>
    public (IReadOnlyList<EtcdEntry> Entries, long Revision) List(string prefix)
    {
        var full = Prefix + prefix;
        var response = Call(() => _client.Get(new RangeRequest
        {
            Key = ByteString.CopyFromUtf8(full),
            RangeEnd = ByteString.CopyFromUtf8(EtcdClient.GetRangeEnd(full)),
        }, deadline: Deadline()), "list", prefix);
        return ([.. response.Kvs.Select(Entry)], response.Header.Revision);
    }

    /// <summary>
    /// Several keys and prefixes (relative; a prefix ends with '/') read at one revision in one round trip: an entry
    /// list for each, in the order given (a key's list holds it or nothing), and the store's revision at the reading.
    /// </summary>
    public (IReadOnlyList<EtcdEntry>[] Entries, long Revision) Read(params string[] keysAndPrefixes)
    {
        var request = new TxnRequest();
        foreach (var key in keysAndPrefixes)
        {
            var full = Prefix + key;
            request.Success.Add(new RequestOp
            {
                RequestRange = key.EndsWith('/')
                    ? new RangeRequest { Key = ByteString.CopyFromUtf8(full), RangeEnd = ByteString.CopyFromUtf8(EtcdClient.GetRangeEnd(full)) }
                    : new RangeRequest { Key = ByteString.CopyFromUtf8(full) },
            });
        }

        var response = Call(() => _client.Transaction(request, deadline: Deadline()), "read", keysAndPrefixes[0]);
        return ([.. response.Responses.Select(r => (IReadOnlyList<EtcdEntry>)[.. r.ResponseRange.Kvs.Select(Entry)])],
            response.Header.Revision);
    }

    /// <summary>Creates every key given, all or none: false when one of them exists.</summary>
    public bool CreateAll(long lease, params (string Key, string Value)[] entries)
    {
        var request = new TxnRequest();
        foreach (var (key, value) in entries)
        {
            request.Compare.Add(new Compare
            {
                Key = Bytes(key), Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal,
                Version = 0,
            });
            request.Success.Add(new RequestOp { RequestPut = Put(key, value, lease) });
        }

        return Transact(request, "create", entries[0].Key).Succeeded;
    }

    /// <summary>
    /// Replaces <paramref name="key"/>'s value if it was last changed at <paramref name="modRevision"/> (0: if it does
    /// not exist); false when someone changed it since.
    /// </summary>
    public bool CompareAndPut(string key, string value, long modRevision, long lease = 0)
    {
        var request = new TxnRequest();
        request.Compare.Add(Unchanged(key, modRevision));
        request.Success.Add(new RequestOp { RequestPut = Put(key, value, lease) });
        return Transact(request, "change", key).Succeeded;
    }

    /// <summary>
    /// One transaction: if every key of <paramref name="unchanged"/> was last changed at its revision (0: does not
    /// exist), makes every put (bound to its lease, 0: none) and deletes every key of <paramref name="deletes"/>; false
    /// when one of them changed, and then nothing was done.
    /// </summary>
    public bool Commit(IEnumerable<(string Key, long ModRevision)> unchanged, IEnumerable<(string Key, string Value, long Lease)> puts,
        IEnumerable<string>? deletes = null) => CommitAt(unchanged, puts, deletes) != 0;

    /// <summary>As <see cref="Commit"/>, answering the revision the transaction made, or 0 when it changed nothing.</summary>
    public long CommitAt(IEnumerable<(string Key, long ModRevision)> unchanged, IEnumerable<(string Key, string Value, long Lease)> puts,
        IEnumerable<string>? deletes = null)
    {
        var request = new TxnRequest();
        var first = "";
        foreach (var (key, modRevision) in unchanged)
        {
            request.Compare.Add(Unchanged(key, modRevision));
            first = first.Length == 0 ? key : first;
        }

        foreach (var (key, value, lease) in puts)
        {
            request.Success.Add(new RequestOp { RequestPut = Put(key, value, lease) });
            first = first.Length == 0 ? key : first;
        }

        foreach (var key in deletes ?? [])
        {
            request.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = Bytes(key) } });
        }

        var response = Transact(request, "change", first);
        return response.Succeeded ? response.Header.Revision : 0;
    }

    /// <summary>
    /// In one round trip: sets <paramref name="key"/> (bound to <paramref name="lease"/>) if <paramref name="guard"/> was
    /// last changed at <paramref name="guardRevision"/>; otherwise changes nothing and gives <paramref name="guard"/> as
    /// it is now (null: it does not exist).
    /// </summary>
    public bool SetIfUnchanged(string guard, long guardRevision, string key, string value, long lease, out EtcdEntry? guardNow)
    {
        var request = new TxnRequest();
        request.Compare.Add(Unchanged(guard, guardRevision));
        request.Success.Add(new RequestOp { RequestPut = Put(key, value, lease) });
        request.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = Bytes(guard) } });
        var response = Transact(request, "write", key);
        guardNow = response.Succeeded || response.Responses[0].ResponseRange.Kvs.Count == 0
            ? null
            : Entry(response.Responses[0].ResponseRange.Kvs[0]);
        return response.Succeeded;
    }

    /// <summary>Deletes <paramref name="key"/> if it was last changed at <paramref name="modRevision"/>.</summary>
    public bool CompareAndDelete(string key, long modRevision)
    {
        var request = new TxnRequest();
        request.Compare.Add(Unchanged(key, modRevision));
        request.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = Bytes(key) } });
        return Transact(request, "delete", key).Succeeded;
    }

    /// <summary>Sets every key given, bound to <paramref name="lease"/> (0: none), in one revision; returns it.</summary>
    public long SetAll(long lease, params (string Key, string Value)[] entries)
    {
        var request = new TxnRequest();
        foreach (var (key, value) in entries)
        {
            request.Success.Add(new RequestOp { RequestPut = Put(key, value, lease) });
        }

        return Call(() => _client.Transaction(request, deadline: Deadline()), "write", entries[0].Key).Header.Revision;
    }

    /// <summary>Sets <paramref name="key"/>, bound to <paramref name="lease"/> (0: none); returns the new revision.</summary>
    public long Set(string key, string value, long lease = 0) =>
        Call(() => _client.Put(Put(key, value, lease), deadline: Deadline()), "write", key).Header.Revision;

    /// <summary>Deletes <paramref name="key"/>; returns the store's revision after the delete.</summary>
    public long Delete(string key) =>
        Call(() => _client.Delete(new DeleteRangeRequest { Key = Bytes(key) }, deadline: Deadline()), "delete", key).Header.Revision;

    /// <summary>A lease of <paramref name="ttlSeconds"/> seconds: the keys bound to it go when it is not kept alive.</summary>
    public long GrantLease(int ttlSeconds) =>
        Call(() => _client.LeaseGrant(new LeaseGrantRequest { TTL = ttlSeconds }, deadline: Deadline()), "grant a lease", "").ID;

    /// <summary>Seconds the lease has left; 0 or less once it has expired.</summary>
    public long LeaseTimeToLive(long lease) =>
        Call(() => _client.LeaseTimeToLive(new LeaseTimeToLiveRequest { ID = lease }, deadline: Deadline()), "read the lease", "").TTL;

    public void RevokeLease(long lease) =>
        Call(() => _client.LeaseRevoke(new LeaseRevokeRequest { ID = lease }, deadline: Deadline()), "revoke the lease", "");

    internal EtcdEntry Entry(Mvccpb.KeyValue kv) =>
        new(kv.Key.ToStringUtf8()[Prefix.Length..], kv.Value.ToStringUtf8(), kv.ModRevision, kv.Lease);

    private ByteString Bytes(string key) => ByteString.CopyFromUtf8(Prefix + key);

    private PutRequest Put(string key, string value, long lease) =>
        new() { Key = Bytes(key), Value = ByteString.CopyFrom(value, Encoding.UTF8), Lease = lease };

    private Compare Unchanged(string key, long modRevision) => new()
    {
        Key = Bytes(key), Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal,
        ModRevision = modRevision,
    };

    /// <summary>
    /// A call's deadline: <see cref="Timeout"/>, or three times that until etcd first answered this store. The first call
    /// of a process also makes the connection and runs the gRPC client's code for the first time: on a loaded machine
    /// that alone took more than 5 s (a fresh imcd's first call timed out while the tests of three machines ran).
    /// </summary>
    private DateTime Deadline() => DateTime.UtcNow + (_answered ? Timeout : 3 * Timeout);

    /// <summary>
    /// A conditional transaction that cannot misreport its own commit: when etcd was out of reach and the request went
    /// again (<see cref="Call{T}"/>), the first attempt may have committed before the connection broke, and the second
    /// then fails its compare on that very change. So a retried transaction that failed reads back what it would have
    /// changed: every key it puts holding what it put, and every key it deletes gone, is its own commit, answered as such.
    /// </summary>
    private TxnResponse Transact(TxnRequest request, string what, string key)
    {
        var attempts = 0;
        var response = Call(() =>
        {
            attempts++;
            return _client.Transaction(request, deadline: Deadline());
        }, what, key);
        if (response.Succeeded || attempts == 1 || request.Success.Count == 0)
        {
            return response;
        }

        long revision = 0;
        foreach (var op in request.Success)
        {
            var target = op.RequestPut?.Key ?? op.RequestDeleteRange?.Key;
            if (target is null)
            {
                return response;
            }

            var now = Call(() => _client.Get(new RangeRequest { Key = target }, deadline: Deadline()), "read", key);
            var held = now.Kvs.Count == 0 ? null : now.Kvs[0];
            var ours = op.RequestPut is { } put ? held is not null && held.Value == put.Value : held is null;
            if (!ours)
            {
                return response;
            }

            revision = Math.Max(revision, held?.ModRevision ?? now.Header.Revision);
        }

        return new TxnResponse { Succeeded = true, Header = new ResponseHeader { Revision = revision } };
    }

    private bool IsTlsRefusal(RpcException e) => Connection.IsTls && EtcdConnection.IsTlsFailure(e.Status.DebugException);

    /// <summary>
    /// Under TLS 1.3 a client's handshake is over before etcd checks its certificate, so etcd refuses one it does not
    /// trust by closing the connection before HTTP/2 starts: no TLS error reaches this side, only a connection that
    /// ended after it was made (where an etcd that is away refuses the TCP connection itself). Said, so the line points
    /// at the likely cause.
    /// </summary>
    private string TlsHint(RpcException e) => Connection.IsTls && EtcdConnection.EndedAfterConnecting(e.Status.DebugException)
        ? "; etcd ended the connection after TLS, as it does with a client certificate its --trusted-ca-file did not sign: " +
          "check --etcd-cert (IMC_ETCD_CERT)"
        : "";

    /// <summary>What TLS said, innermost last: the refusal's reason is deepest.</summary>
    private static string TlsDetail(RpcException e)
    {
        var reasons = new List<string>();
        for (var inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            reasons.Add(inner.Message);
        }

        return string.Join(": ", reasons.Distinct());
    }

    private T Call<T>(Func<T> call, string what, string key)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            while (true)
            {
                try
                {
                    var answer = call();
                    Volatile.Write(ref _answeredMs, Environment.TickCount64);
                    _answered = true;
                    return answer;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && clock.Elapsed < Timeout && !IsTlsRefusal(e))
                {
                    // No connection now (etcd away, or gRPC between two reconnect attempts): try again within the
                    // deadline. A change that did reach etcd before the connection broke is found by the caller's
                    // compare (create-if-absent, compare-and-put), never applied twice.
                    Thread.Sleep(100);
                }
            }
        }
        catch (RpcException e) when (IsTlsRefusal(e))
        {
            // A certificate refused is refused again on every attempt: said at once, not as a timeout.
            throw new DriverException(DriverStatus.McError,
                $"the directory (etcd at {Endpoints}) and this process did not agree on TLS to {what} {Prefix}{key}: " +
                $"{TlsDetail(e)}; check that --etcd-ca (IMC_ETCD_CA) is the CA that signed etcd's certificate (for the address " +
                "dialled) and that etcd's --trusted-ca-file signed --etcd-cert (IMC_ETCD_CERT)");
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Unavailable or StatusCode.Cancelled)
        {
            throw new DriverException(DriverStatus.Timeout,
                $"the directory (etcd at {Endpoints}) did not answer within {Timeout.TotalSeconds:0.#} s to {what} " +
                $"{Prefix}{key}: {e.Status.Detail}{TlsHint(e)}; check that etcd runs and is reachable, then retry (nothing was " +
                "changed unless the change shows in imcs)");
        }
        catch (OperationCanceledException e)
        {
            // The gRPC client reports some deadlines as a cancelled task rather than DeadlineExceeded.
            throw new DriverException(DriverStatus.Timeout,
                $"the directory (etcd at {Endpoints}) did not answer within {Timeout.TotalSeconds:0.#} s to {what} " +
                $"{Prefix}{key} ({e.Message}); check that etcd runs and is reachable, then retry");
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.PermissionDenied)
        {
            // etcd's auth: the certificate's common name is the user, and no role of that user covers the prefix.
            throw new DriverException(DriverStatus.Permit,
                $"the directory (etcd at {Endpoints}) refused to {what} {Prefix}{key}: permission denied to the etcd user " +
                $"'{Connection.User ?? "(none: no client certificate)"}' (the common name of --etcd-cert); grant it the " +
                $"cluster's role, readwrite on the prefix {Prefix} (docs/across-machines.md, 'etcd users and roles')");
        }
        catch (RpcException e)
        {
            throw new DriverException(DriverStatus.McError,
                $"the directory (etcd at {Endpoints}) refused to {what} {Prefix}{key}: {e.Status.StatusCode} {e.Status.Detail}{TlsHint(e)}");
        }
    }
}

/// <summary>One key of the cluster (relative to its prefix), its value, and when it last changed.</summary>
internal sealed record EtcdEntry(string Key, string Value, long ModRevision, long Lease);
