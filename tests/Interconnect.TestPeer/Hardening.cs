using System.Globalization;
using Interconnect.Imc;

namespace Interconnect.TestPeer;

/// <summary>Peer commands for the hardening tests: races that used to take a process down or lose counts.</summary>
internal static class Hardening
{
    private const int RegionSize = 1 << 20;
    private static long s_disposedReads;

    private static readonly List<System.Net.Sockets.Socket> s_held = [];

    /// <summary>
    /// Opens <paramref name="count"/> connections to the Unix socket at <paramref name="path"/> (imcd's), sends nothing,
    /// and holds them; after a second, answers how many the other end has not closed. <c>socket-release</c> closes them.
    /// </summary>
    public static string HoldConnections(string path, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream,
                System.Net.Sockets.ProtocolType.Unspecified);
            socket.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
            s_held.Add(socket);
        }

        Thread.Sleep(1000);
        // Readable with nothing to read: the other end closed it.
        var open = s_held.Count(socket => !(socket.Poll(0, System.Net.Sockets.SelectMode.SelectRead) && socket.Available == 0));
        return open.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Closes what <see cref="HoldConnections"/> holds.</summary>
    public static string ReleaseConnections()
    {
        var count = s_held.Count;
        s_held.ForEach(socket => socket.Dispose());
        s_held.Clear();
        return count.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// <paramref name="rounds"/> times: attach a region for receive, start readers in tight loops (word reads, 1 MiB
    /// copies, and a span over the whole memory held across the dispose), dispose the window from this thread while
    /// they read, and join them. Readers may see ObjectDisposedException or the last bytes; the process must not die.
    /// Answers the rounds done and how many reads ended in ObjectDisposedException.
    /// </summary>
    public static string DetachRace(ImcContext context, int key, int rounds)
    {
        var disposedSeen = 0L;
        for (var round = 0; round < rounds; round++)
        {
            using var region = context.AllocateRegion(key, RegionSize);
            using var tx = region.AttachTransmit(flags: ImcAttachFlags.Loopback);
            var rx = region.AttachReceive();
            tx.Write(RegionSize - 8, 0x5A5A_5A5A_5A5A_5A5AUL);
            using var started = new CountdownEvent(3);
            var readers = new[]
            {
                new Thread(() => Loop(started, () => rx.Read<long>(RegionSize - 8))),
                new Thread(() =>
                {
                    var buffer = new byte[RegionSize];
                    Loop(started, () => rx.Read(0, buffer));
                }),
                new Thread(() =>
                {
                    // The span outlives the window: reading it after the dispose must show bytes, never fault.
                    var span = rx.AsSpan(0, RegionSize);
                    started.Signal();
                    long sum = 0;
                    for (var pass = 0; pass < 4; pass++)
                    {
                        for (var i = 0; i < span.Length; i += 64)
                        {
                            sum += span[i];
                        }
                    }

                    GC.KeepAlive(sum);
                }),
            };
            foreach (var reader in readers)
            {
                reader.Start();
            }

            started.Wait();
            Thread.Sleep(round % 3); // dispose at different points of the readers' loops
            rx.Dispose();
            foreach (var reader in readers)
            {
                reader.Join();
            }

            disposedSeen += Interlocked.Exchange(ref s_disposedReads, 0);
            GC.KeepAlive(rx);
        }

        return $"{rounds} {disposedSeen.ToString(CultureInfo.InvariantCulture)}";
    }

    private static void Loop(CountdownEvent started, Action read)
    {
        started.Signal();
        while (true)
        {
            try
            {
                read();
            }
            catch (ObjectDisposedException)
            {
                Interlocked.Increment(ref s_disposedReads);
                return;
            }
        }
    }
}
