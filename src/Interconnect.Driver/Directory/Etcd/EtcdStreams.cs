using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>
/// The two long-lived calls an agent keeps open to etcd, a lease's keep-alive and a watch of the cluster's prefixes,
/// each on a stream of its own that it makes again, on the next endpoint, whenever it breaks. They run on channels of
/// their own (one per endpoint) rather than through <c>dotnet-etcd</c>'s, whose watch ends silently with its stream and
/// whose keep-alive reports no answer: here a broken watch resumes from the revision after the last change it
/// delivered, so nothing is missed and nothing need be re-read, and each keep-alive answer counts as contact with etcd
/// (<see cref="EtcdStore.AnsweredMs"/>), so an idle agent needs no other request to know it is not cut off.
/// </summary>
internal sealed class EtcdStreams : IDisposable
{
    private static readonly TimeSpan s_again = TimeSpan.FromMilliseconds(200);

    private readonly EtcdStore _store;
    private readonly GrpcChannel[] _channels;
    private int _next;

    public EtcdStreams(EtcdStore store)
    {
        _store = store;
        _channels = [.. store.Connection.EachEndpoint.Select(e => GrpcChannel.ForAddress(e, Options(store.Connection)))];
    }

    /// <summary>
    /// A stream channel's options: the same reconnect backoff as the store's client (soon after etcd is back, a stream
    /// reaches it), and the same TLS (the CA as etcd's only root, this machine's client certificate) for https://.
    /// </summary>
    private static GrpcChannelOptions Options(EtcdConnection connection)
    {
        var options = new GrpcChannelOptions
        {
            InitialReconnectBackoff = TimeSpan.FromMilliseconds(100),
            MaxReconnectBackoff = TimeSpan.FromSeconds(1),
        };
        connection.Configure(options);
        return options;
    }

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }

    /// <summary>The channel for a new stream: the endpoints in turn, so a stream that broke tries the next one.</summary>
    private GrpcChannel Channel() => _channels[(int)((uint)Interlocked.Increment(ref _next) % (uint)_channels.Length)];

    /// <summary>
    /// Keeps <paramref name="lease"/> alive until <paramref name="cancellationToken"/> is cancelled: a keep-alive every
    /// <paramref name="period"/>, each answer noted as contact with etcd. Calls <paramref name="lost"/> when etcd
    /// answers that the lease is gone (it expired while this machine was cut off or stalled).
    /// </summary>
    public Task KeepAliveAsync(long lease, TimeSpan period, Action lost, CancellationToken cancellationToken) =>
        AgainAndAgainAsync(async token =>
        {
            using var call = new Lease.LeaseClient(Channel()).LeaseKeepAlive(cancellationToken: token);
            var answers = Task.Run(async () =>
            {
                while (await call.ResponseStream.MoveNext(token).ConfigureAwait(false))
                {
                    _store.NoteAnswer();
                    if (call.ResponseStream.Current.TTL <= 0)
                    {
                        lost();
                    }
                }
            }, CancellationToken.None);
            while (!answers.IsCompleted)
            {
                await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = lease }, token).ConfigureAwait(false);
                _ = await Task.WhenAny(answers, Task.Delay(period, token)).ConfigureAwait(false);
            }

            await answers.ConfigureAwait(false); // its failure, if it failed: the loop makes the stream again
        }, cancellationToken);

    /// <summary>
    /// Watches the keys under each of <paramref name="prefixes"/> (relative to the cluster's prefix) from
    /// <paramref name="startRevision"/> on (0: from now), calling <paramref name="changed"/> with each response's
    /// changes, in revision order within a prefix, one call at a time; until <paramref name="cancellationToken"/> is
    /// cancelled. A stream that breaks is made again from the revision after the last change delivered for each
    /// prefix, so a change made meanwhile still comes; then, and when etcd compacted past that revision (those
    /// changes are gone), <paramref name="changed"/> is called with none: re-read what you need.
    /// </summary>
    public Task WatchAsync(IReadOnlyList<string> prefixes, long startRevision, Action<IReadOnlyList<EtcdChange>> changed,
        CancellationToken cancellationToken)
    {
        var from = prefixes.Select(_ => startRevision).ToArray(); // per prefix: the first revision not yet delivered
        var broken = false;
        return AgainAndAgainAsync(async token =>
        {
            using var call = new Watch.WatchClient(Channel()).Watch(cancellationToken: token);
            var byId = new Dictionary<long, int>();
            var creating = new Queue<int>();
            for (var i = 0; i < prefixes.Count; i++)
            {
                var full = _store.Prefix + prefixes[i];
                creating.Enqueue(i); // etcd answers a stream's creations in order
                await call.RequestStream.WriteAsync(new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest
                    {
                        Key = ByteString.CopyFromUtf8(full),
                        RangeEnd = ByteString.CopyFromUtf8(dotnet_etcd.EtcdClient.GetRangeEnd(full)),
                        StartRevision = from[i],
                    },
                }, token).ConfigureAwait(false);
            }

            while (await call.ResponseStream.MoveNext(token).ConfigureAwait(false))
            {
                var response = call.ResponseStream.Current;
                _store.NoteAnswer();
                if (response.Created && creating.TryDequeue(out var created))
                {
                    byId[response.WatchId] = created;
                    if (from[created] == 0)
                    {
                        from[created] = response.Header.Revision + 1; // from now: what comes after this answer
                    }

                    if (byId.Count == prefixes.Count && broken)
                    {
                        broken = false;
                        changed([]); // made again: whatever happened while it was away came or comes as changes
                    }
                }

                if (response.Canceled)
                {
                    if (response.CompactRevision > 0 && byId.TryGetValue(response.WatchId, out var compacted))
                    {
                        from[compacted] = response.CompactRevision; // the oldest etcd still has; the re-read covers the rest
                    }

                    throw new RpcException(new Grpc.Core.Status(StatusCode.Aborted, $"etcd cancelled a watch: {response.CancelReason}"));
                }

                if (response.Events.Count > 0 && byId.TryGetValue(response.WatchId, out var index))
                {
                    changed([.. response.Events.Select(e => new EtcdChange(_store.Entry(e.Kv), e.Type == Mvccpb.Event.Types.EventType.Delete))]);
                    from[index] = response.Events[^1].Kv.ModRevision + 1;
                }
            }
        }, cancellationToken, () => broken = true);
    }

    /// <summary>
    /// Runs a stream until <paramref name="cancellationToken"/> is cancelled, making it again shortly whenever it ends
    /// or breaks (<paramref name="broke"/> is told).
    /// </summary>
    private static async Task AgainAndAgainAsync(Func<CancellationToken, Task> stream, CancellationToken cancellationToken,
        Action? broke = null)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await stream(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                // Stopped, however the stream ended: a call cancelled by its token fails with RpcException (Cancelled)
                // on these channels, not with OperationCanceledException.
                return;
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // etcd away, or the stream dropped: make it again shortly.
            }

            broke?.Invoke();
            try
            {
                await Task.Delay(s_again, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
