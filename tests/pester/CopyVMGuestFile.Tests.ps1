# Copy-VMGuestFile against real agents on this machine (Debian's qemu-ga, and ours when built):
# the "guest" is this host, so guest paths are temporary folders here too. Never write outside
# the per-run temporary folder, except the deliberate error cases (/sys, /dev/full).

BeforeDiscovery {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    $script:Kinds = @('Stock') + @(if (Get-OurAgentPath) { 'Ours' })
}

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force

    . (Join-Path $PSScriptRoot 'CopyTestHelpers.ps1')
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')
}

Describe 'Copy-VMGuestFile against the <_> agent' -ForEach $Kinds {
    BeforeAll {
        $script:Kind = $_
        $script:Agent, $script:S = Start-AgentSession -Kind $Kind -Name "copy-$Kind"
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-copy-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path $T
    }

    AfterAll {
        Stop-AgentSession $Agent -AllSessions
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    BeforeEach {
        $script:W = Join-Path $T ([guid]::NewGuid().ToString('n').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path "$W/local", "$W/guest"
    }

    Context 'both directions' {
        It 'copies a file into the guest and back, identical, with a result per file' {
            New-TestTree "$W/local"
            $up = Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/a.txt" -Destination "$W/guest/a-copy.txt" -PassThru
            $up.Direction | Should -Be 'LocalToGuest'
            $up.Bytes | Should -Be 5
            $up.Destination | Should -Be "$W/guest/a-copy.txt"
            $up.Atomic | Should -BeTrue
            $up.Hash | Should -BeNullOrEmpty
            $up.Duration | Should -BeOfType [TimeSpan]
            Get-Content -Raw "$W/guest/a-copy.txt" | Should -Be 'alpha'

            $down = Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/a-copy.txt" -Destination "$W/local/back.txt" -PassThru
            $down.Direction | Should -Be 'GuestToLocal'
            $down.Bytes | Should -Be 5
            Get-Content -Raw "$W/local/back.txt" | Should -Be 'alpha'
            Get-ChildItem -Recurse $W -Filter '*.qgtmp-*' | Should -BeNullOrEmpty
        }

        It 'writes nothing and returns nothing without -PassThru' {
            New-TestTree "$W/local"
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/a.txt" -Destination "$W/guest/" | Should -BeNullOrEmpty
            "$W/guest/a.txt" | Should -Exist
        }

        It 'copies an empty file' {
            $null = New-Item -ItemType File "$W/local/empty.txt"
            (Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/empty.txt" -Destination "$W/guest/e.txt" -PassThru).Bytes | Should -Be 0
            (Get-Item "$W/guest/e.txt").Length | Should -Be 0
            (Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/e.txt" -Destination "$W/local/e2.txt" -PassThru).Bytes | Should -Be 0
        }

        It 'copies folders with -Recurse into the guest and back, tree and content identical' {
            New-TestTree "$W/local/tree"
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/tree" -Destination "$W/guest/tree" -Recurse
            Get-TreeState "$W/guest/tree" | Should -Be (Get-TreeState "$W/local/tree")
            $r = Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/tree" -Destination "$W/local/back" -Recurse -PassThru
            @($r).Count | Should -Be 4
            Get-TreeState "$W/local/back" | Should -Be (Get-TreeState "$W/local/tree")
        }

        It 'copies a folder into an existing folder by name' {
            New-TestTree "$W/local/tree"
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/tree" -Destination "$W/guest" -Recurse
            Get-TreeState "$W/guest/tree" | Should -Be (Get-TreeState "$W/local/tree")
        }

        It 'expands local wildcards and copies the matches into a guest folder' {
            New-TestTree "$W/local"
            $r = Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/*.txt", "$W/local/*.log" -Destination "$W/guest/" -PassThru
            @($r).Count | Should -Be 2
            (Get-ChildItem "$W/guest").Name | Sort-Object | Should -Be @('a.txt', 'b.log')
        }

        It 'takes -LiteralPath names as they are' {
            Set-Content -LiteralPath "$W/local/odd[1].txt" -Value 'literal' -NoNewline
            Copy-VMGuestFile -Session $S -LocalToGuest -LiteralPath "$W/local/odd[1].txt" -Destination "$W/guest/"
            Get-Content -Raw -LiteralPath "$W/guest/odd[1].txt" | Should -Be 'literal'
        }

        It 'takes files from the pipeline (Get-ChildItem)' {
            New-TestTree "$W/local"
            Get-ChildItem "$W/local" -File | Copy-VMGuestFile -Session $S -LocalToGuest -Destination "$W/guest/"
            (Get-ChildItem "$W/guest").Name | Sort-Object | Should -Be @('a.txt', 'b.log')
        }

        It 'copies several guest files to a local folder' {
            New-TestTree "$W/guest"
            Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/a.txt", "$W/guest/b.log" -Destination "$W/local"
            (Get-ChildItem "$W/local").Name | Sort-Object | Should -Be @('a.txt', 'b.log')
        }
    }

    Context 'integrity' {
        It 'verifies a 64 MiB generated file both ways with -Verify' {
            New-GeneratedFile "$W/local/big.bin" 64
            $expected = (Get-FileHash "$W/local/big.bin").Hash.ToLowerInvariant()
            $up = Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/big.bin" -Destination "$W/guest/big.bin" -Verify -PassThru
            $up.Verified | Should -BeTrue
            $up.Hash | Should -Be $expected
            $up.Bytes | Should -Be 64MB
            $down = Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/big.bin" -Destination "$W/local/big2.bin" -Verify -PassThru
            $down.Hash | Should -Be $expected
            (Get-FileHash "$W/local/big2.bin").Hash | Should -Be $expected.ToUpperInvariant()
        }

        It 'keeps memory bounded copying a large sparse file both ways (peak working set delta < 300 MB)' {
            # In a child pwsh with its own agent, so the peak belongs to this copy alone.
            # 512 MiB by default (the stock agent moves ~10 MiB/s); QEMUGUEST_BIG_TESTS=1 for 2 GiB.
            $mib = if ($env:QEMUGUEST_BIG_TESTS) { 2048 } else { 512 }
            $agent2 = Start-LocalAgent -Kind $Kind
            try {
                $null = & truncate -s "$($mib)M" "$W/guest/sparse.bin"
                $script = @"
`$ErrorActionPreference = 'Stop'
`$ProgressPreference = 'SilentlyContinue'
Import-Module '$($env:QEMUGUEST_MODULE_PATH)'
`$s = New-VMGuestSession -ConnectionString '$($agent2.ConnectionString)'
`$p = [Diagnostics.Process]::GetCurrentProcess(); `$p.Refresh(); `$before = `$p.WorkingSet64
`$down = Copy-VMGuestFile -Session `$s -GuestToLocal -Source '$W/guest/sparse.bin' -Destination '$W/local/sparse.bin' -PassThru
`$up = Copy-VMGuestFile -Session `$s -LocalToGuest -Source '$W/local/sparse.bin' -Destination '$W/guest/up.bin' -PassThru
`$p.Refresh()
'{0} {1} {2}' -f `$down.Bytes, `$up.Bytes, (`$p.PeakWorkingSet64 - `$before)
"@
                $pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
                $out = & $pwsh -NoProfile -NonInteractive -Command $script
                $LASTEXITCODE | Should -Be 0
                $down, $up, $delta = ($out | Select-Object -Last 1) -split ' '
                [long] $down | Should -Be ([long] $mib * 1MB)
                [long] $up | Should -Be ([long] $mib * 1MB)
                Write-Host ("        $Kind, $mib MiB each way: peak working set delta {0:N0} MB" -f ([long] $delta / 1MB))
                [long] $delta | Should -BeLessThan 300MB
                (Get-Item "$W/local/sparse.bin").Length | Should -Be ([long] $mib * 1MB)
            }
            finally {
                $agent2 | Stop-LocalAgent
                Remove-Item "$W/local/sparse.bin", "$W/guest/sparse.bin", "$W/guest/up.bin" -ErrorAction SilentlyContinue
            }
        }
    }

    Context '-Force and -WhatIf' {
        It 'refuses to overwrite without -Force (DestinationExists) and overwrites with it' {
            Set-Content "$W/local/f.txt" 'new' -NoNewline
            Set-Content "$W/guest/f.txt" 'old' -NoNewline
            $err = $null
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/f.txt" -Destination "$W/guest/f.txt" -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'DestinationExists,*'
            $err[0].CategoryInfo.Category | Should -Be 'ResourceExists'
            Get-Content -Raw "$W/guest/f.txt" | Should -Be 'old'
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/f.txt" -Destination "$W/guest/f.txt" -Force
            Get-Content -Raw "$W/guest/f.txt" | Should -Be 'new'

            Set-Content "$W/local/g.txt" 'local' -NoNewline
            Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/f.txt" -Destination "$W/local/g.txt" -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'DestinationExists,*'
            Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/f.txt" -Destination "$W/local/g.txt" -Force
            Get-Content -Raw "$W/local/g.txt" | Should -Be 'new'
        }

        It 'needs -Force for a missing destination folder, and creates it with -Force' {
            Set-Content "$W/local/f.txt" 'x'
            $err = $null
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/f.txt" -Destination "$W/guest/no/such/f.txt" -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'DestinationFolderNotFound,*'
            "$W/guest/no" | Should -Not -Exist
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/f.txt" -Destination "$W/guest/no/such/f.txt" -Force
            "$W/guest/no/such/f.txt" | Should -Exist

            Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/no/such/f.txt" -Destination "$W/local/x/y/f.txt" -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'DestinationFolderNotFound,*'
            Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/no/such/f.txt" -Destination "$W/local/x/y/f.txt" -Force
            "$W/local/x/y/f.txt" | Should -Exist
        }

        It 'shows progress as a parent activity (files n of N, bytes of the whole copy) with each file under it' {
            New-TestTree "$W/local/tree"
            $total = (Get-ChildItem -Recurse -File "$W/local/tree" | Measure-Object Length -Sum).Sum
            $ps = [powershell]::Create()
            try {
                $null = $ps.AddCommand('Import-Module').AddArgument($env:QEMUGUEST_MODULE_PATH).AddStatement()
                $null = $ps.AddCommand('Copy-VMGuestFile').AddParameter('Session', $S).AddParameter('LocalToGuest').AddParameter('Recurse').
                    AddParameter('Source', "$W/local/tree").AddParameter('Destination', "$W/guest/progress")
                $null = $ps.Invoke()
                $ps.Streams.Error | Should -BeNullOrEmpty
                $records = @($ps.Streams.Progress)
            }
            finally { $ps.Dispose() }
            $parents = @($records | Where-Object { $_.ParentActivityId -lt 0 -and $_.Activity -like 'Copy-VMGuestFile to *' })
            $parents.Count | Should -BeGreaterThan 0
            $parentId = $parents[0].ActivityId
            $size = ($total / 1024).ToString('0.0', [cultureinfo]::InvariantCulture) + ' KiB'
            $parents.StatusDescription | Should -Contain "files 4 of 4, $size of $size"
            $children = @($records | Where-Object { $_.ParentActivityId -eq $parentId -and $_.RecordType -ne 'Completed' })
            ($children.Activity | Sort-Object -Unique) | Should -Be @('a.txt', 'b.log', 'c.txt', 'd.bin')
        }

        It 'copies nothing with -WhatIf' {
            New-TestTree "$W/local/tree"
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/tree" -Destination "$W/guest/tree" -Recurse -WhatIf
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/tree/a.txt" -Destination "$W/guest/a.txt" -WhatIf
            Get-ChildItem "$W/guest" | Should -BeNullOrEmpty
        }
    }

    Context 'errors' {
        It 'reports a missing local source as SourceNotFound' {
            $err = $null
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/nope.txt" -Destination "$W/guest/" -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'SourceNotFound,*'
            $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        }

        It 'reports a missing guest source as SourceNotFound' {
            $err = $null
            Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/nope.txt" -Destination "$W/local/" -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'SourceNotFound,*'
            $err[0].TargetObject | Should -Be "$W/guest/nope.txt"
        }

        It 'asks for -Recurse for a folder (SourceIsDirectory), both ways' {
            New-TestTree "$W/local/tree"
            New-TestTree "$W/guest/tree"
            $err = $null
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/tree" -Destination "$W/guest/t2" -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'SourceIsDirectory,*'
            Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/tree" -Destination "$W/local/t2" -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'SourceIsDirectory,*'
        }

        It 'reports permission denied in the guest as PermissionDenied' {
            # Even root cannot create files in /sys.
            Set-Content "$W/local/f.txt" 'x'
            $err = $null
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/f.txt" -Destination '/sys/qemuguest-pester.txt' -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'PermissionDenied,*'
            $err[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
            $err[0].Exception.InnerException | Should -Not -BeNullOrEmpty
        }

        It 'keeps copying the other files after one fails' {
            New-TestTree "$W/local"
            Set-Content "$W/guest/a.txt" 'existing'
            $err = $null
            $r = Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/a.txt", "$W/local/b.log" -Destination "$W/guest" -PassThru -ErrorVariable err -ErrorAction SilentlyContinue
            $err.Count | Should -Be 1
            @($r).Destination | Should -Be "$W/guest/b.log"
        }

        It 'rejects a call without a direction' {
            { Copy-VMGuestFile -Session $S -Source "$W/local/a.txt" -Destination "$W/guest/" -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvalidArgument,QemuGuest.Cmdlets.Tasks.CopyVMGuestFileCommand'
        }
    }

    Context 'names and sizes from the guest (issue 15)' {
        It 'a guest file named lnk\..\..\..\escaped beside a symlink lnk cannot make -Recurse -Force write outside -Destination' {
            # What any unprivileged guest user can do: a link, and a file whose name holds
            # backslashes. The guest reads src/lnk/../../../escaped through the link ($W/escaped);
            # before the fix the host wrote DEST/src/lnk/../../../escaped, i.e. $W/local/escaped.
            $null = New-Item -ItemType Directory -Path "$W/guest/src", "$W/guest/deep/deeper", "$W/local/out"
            $null = New-Item -ItemType SymbolicLink -Path "$W/guest/src/lnk" -Target "$W/guest/deep/deeper"
            [IO.File]::WriteAllText("$W/guest/src/lnk\..\..\..\escaped", 'planted')
            [IO.File]::WriteAllText("$W/escaped", 'owned')
            [IO.File]::WriteAllText("$W/guest/src/ok.txt", 'fine')
            $err = $null
            Copy-VMGuestFile -Session $S -GuestToLocal -Recurse -Force -Source "$W/guest/src" -Destination "$W/local/out/" -ErrorVariable err -ErrorAction SilentlyContinue
            "$W/local/escaped" | Should -Not -Exist
            Get-Content -Raw "$W/local/out/src/ok.txt" | Should -Be 'fine'
            @(Get-ChildItem -Force -Recurse "$W/local").FullName | Sort-Object | Should -Be @("$W/local/out", "$W/local/out/src", "$W/local/out/src/ok.txt")
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidGuestName,*'
            $err[0].Exception.Message | Should -Match ([regex]::Escape('lnk\\..\\..\\..\\escaped'))
            $err[0].Exception.Message | Should -Match "^copy-$Kind "
        }

        It 'a 0700 local script arrives 0700, a 0644 file 0644, and a replaced 0666 file takes the source''s mode' {
            # Before: 0666 with both agents (the stock agent creates files 0666 whatever the umask).
            [IO.File]::WriteAllText("$W/local/script.sh", "#!/bin/sh`n")
            [IO.File]::SetUnixFileMode("$W/local/script.sh", [IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
            [IO.File]::WriteAllText("$W/local/plain.txt", 'x')
            [IO.File]::SetUnixFileMode("$W/local/plain.txt", [IO.UnixFileMode]'UserRead, UserWrite, GroupRead, OtherRead')
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/script.sh", "$W/local/plain.txt" -Destination "$W/guest/"
            Set-Content "$W/guest/existing.txt" 'old'
            & chmod 666 "$W/guest/existing.txt"
            Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/script.sh" -Destination "$W/guest/existing.txt" -Force
            & stat -c '%a' "$W/guest/script.sh" | Should -Be '700'
            & stat -c '%a' "$W/guest/plain.txt" | Should -Be '644'
            & stat -c '%a' "$W/guest/existing.txt" | Should -Be '700'
        }

        # Ours depends on the agent creating new files 0600 (before that, 0666 for an instant
        # before the cmdlet's set-attributes: this test saw it).
        It 'no file of a copy into the guest is ever group- or world-writable, temporary ones included' {
            New-GeneratedFile "$W/local/script.sh" 16
            [IO.File]::SetUnixFileMode("$W/local/script.sh", [IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
            # Watch the guest folder while the copy runs: every file seen, temporary ones included.
            # The copies start only once the watcher has looked at the folder once: a thread job
            # takes a while to start, and bulk copies (rehearsal 24) were over before it looked.
            $stop = [Threading.ManualResetEventSlim]::new($false)
            $started = [Threading.ManualResetEventSlim]::new($false)
            $watch = Start-ThreadJob {
                $stopped = $using:stop
                $looking = $using:started
                $dir = "$using:W/guest"
                $seen = [Collections.Generic.Dictionary[string, string]]::new()
                $temps = 0
                while (-not $stopped.IsSet) {
                    foreach ($f in [IO.Directory]::EnumerateFiles($dir)) {
                        try { $m = [IO.File]::GetUnixFileMode($f) } catch { continue }
                        if ($f -like '*.qgtmp-*') { $temps++ }
                        if ($m -band ([IO.UnixFileMode]'GroupWrite, OtherWrite')) { $seen[$f] = "$m" }
                    }
                    $looking.Set()
                }
                [pscustomobject]@{ Writable = @($seen.GetEnumerator() | ForEach-Object { "$($_.Key) $($_.Value)" }); Temps = $temps }
            }
            try {
                $started.Wait([TimeSpan]::FromSeconds(60)) | Should -BeTrue -Because 'the watcher must be looking before the copies start'
                foreach ($i in 1..3) { Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/script.sh" -Destination "$W/guest/script$i.sh" }
            }
            finally { $stop.Set() }
            # Wait-Job with a bound, then Receive and Remove: 'Receive-Job -Wait -AutoRemoveJob' on a
            # thread job that ends quickly can race its own removal ('Job repository does not contain
            # an item with ID ...'), seen twice with our agent's ~0.9 s copies.
            Wait-Job $watch -Timeout 60 | Out-Null
            $watch.State | Should -Be 'Completed'
            $r = Receive-Job $watch
            Remove-Job $watch -Force
            Write-Host "        $Kind : the watcher saw temporary files $($r.Temps) times; group/world-writable: $(@($r.Writable).Count)"
            $r.Temps | Should -BeGreaterThan 0
            $r.Writable | Should -BeNullOrEmpty
        }

        It 'a device that reads forever (/dev/zero, size 0) stops at -MaxBytes with SourceSizeExceeded and leaves nothing' {
            $err = $null
            Copy-VMGuestFile -Session $S -GuestToLocal -Source /dev/zero -Destination "$W/local/zero.bin" -MaxBytes 2MB -ErrorVariable err -ErrorAction SilentlyContinue
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'SourceSizeExceeded,*'
            @(Get-ChildItem -Force "$W/local") | Should -BeNullOrEmpty
        }
    }

    Context 'interruptions' {
        It 'stops cleanly on Ctrl+C: no destination, no temporary file, no guest handle left open' {
            New-GeneratedFile "$W/local/big.bin" 64
            $h0 = Get-ProbeHandle $S "$W/guest"
            $ps = [powershell]::Create()
            $null = $ps.AddScript({
                    param($m, $s, $src, $dst)
                    Import-Module $m
                    Copy-VMGuestFile -Session $s -LocalToGuest -Source $src -Destination $dst
                }).AddArgument($env:QEMUGUEST_MODULE_PATH).AddArgument($S).AddArgument("$W/local/big.bin").AddArgument("$W/guest/big.bin")
            $async = $ps.BeginInvoke()
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (-not (Get-ChildItem "$W/guest" -Filter 'big.bin.qgtmp-*' | Where-Object Length -GT 4MB) -and [DateTime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 50
            }
            $ps.Stop()
            $ps.Dispose()
            Start-Sleep -Seconds 1
            "$W/guest/big.bin" | Should -Not -Exist
            Get-ChildItem "$W/guest" -Filter '*.qgtmp-*' | Should -BeNullOrEmpty
            $h1 = Get-ProbeHandle $S "$W/guest"
            $h1 - $h0 | Should -BeGreaterThan 1
            Get-LeakedHandles $S $h0 $h1 | Should -BeNullOrEmpty
        }

        It 'reports an agent that dies mid-copy (TransferInterrupted) and never presents a partial file as complete' {
            $agent2, $s2 = Start-AgentSession -Kind $Kind -Name "dying-$Kind" -ConnectTimeoutSec 2
            try {
                New-GeneratedFile "$W/local/big.bin" 64
                $ps = [powershell]::Create()
                $null = $ps.AddScript({
                        param($m, $s, $src, $dst)
                        Import-Module $m
                        Copy-VMGuestFile -Session $s -LocalToGuest -Source $src -Destination $dst -TimeoutSec 5 -ErrorAction Continue
                    }).AddArgument($env:QEMUGUEST_MODULE_PATH).AddArgument($s2).AddArgument("$W/local/big.bin").AddArgument("$W/guest/big.bin")
                $async = $ps.BeginInvoke()
                $deadline = [DateTime]::UtcNow.AddSeconds(30)
                while (-not (Get-ChildItem "$W/guest" -Filter 'big.bin.qgtmp-*' | Where-Object Length -GT 4MB) -and [DateTime]::UtcNow -lt $deadline) {
                    Start-Sleep -Milliseconds 50
                }
                $agent2.Process.Kill()
                # The copy asks for the agent again for up to 45 s (it may come back: docs/copy.md) before it reports.
                $null = $async.AsyncWaitHandle.WaitOne(150000)
                $async.IsCompleted | Should -BeTrue
                $null = $ps.EndInvoke($async)
                $errors = @($ps.Streams.Error)
                $ps.Dispose()
                $errors.Count | Should -BeGreaterThan 0
                $errors[0].FullyQualifiedErrorId | Should -Match '^(TransferInterrupted|AgentDisconnected),'
                "$W/guest/big.bin" | Should -Not -Exist
            }
            finally {
                Stop-AgentSession $agent2 $s2
            }
        }
    }
}

Describe 'Copy-VMGuestFile against a stock agent without guest-exec (no rename possible)' {
    BeforeAll {
        $script:Agent, $script:S = Start-AgentSession -Kind Stock -Name 'copy-noexec' -ExtraArguments @('-b', 'guest-exec,guest-exec-status')
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-copy-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path $T
    }

    AfterAll {
        Stop-AgentSession $Agent -AllSessions
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    It 'writes in place, says so, and still verifies by reading back' {
        Set-Content "$T/f.txt" 'in place' -NoNewline
        $w = $null
        $r = Copy-VMGuestFile -Session $S -LocalToGuest -Source "$T/f.txt" -Destination "$T/g.txt" -Verify -PassThru -WarningVariable w -WarningAction SilentlyContinue
        $r.Atomic | Should -BeFalse
        $r.Verified | Should -BeTrue
        $w | Should -Not -BeNullOrEmpty
        Get-Content -Raw "$T/g.txt" | Should -Be 'in place'
    }

    It 'reports a full guest disk as DiskFull (writing to /dev/full)' {
        [IO.File]::WriteAllBytes("$T/data.bin", [byte[]]::new(1MB))
        $err = $null
        Copy-VMGuestFile -Session $S -LocalToGuest -Source "$T/data.bin" -Destination '/dev/full' -Force -ErrorVariable err -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'DiskFull,*'
        $err[0].CategoryInfo.Category | Should -Be 'WriteError'
    }

    It 'needs a listing for guest folders and says which feature is missing' {
        $null = New-Item -ItemType Directory "$T/tree"
        $err = $null
        Copy-VMGuestFile -Session $S -GuestToLocal -Source "$T/tree" -Destination "$T/back" -Recurse -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentFeatureUnavailable,*'
    }
}

Describe 'Copy-VMGuestFile and Invoke-VMGuestCommand through the relay (-VMName), <_> agent' -ForEach $Kinds {
    BeforeDiscovery {
        $script:RelayDll = Join-Path $env:QEMUGUEST_REPO_ROOT 'src/QemuGuest.Relay/bin/Release/net10.0/qemuguest-relay.dll'
    }

    BeforeAll {
        $script:RelayDll = Join-Path $env:QEMUGUEST_REPO_ROOT 'src/QemuGuest.Relay/bin/Release/net10.0/qemuguest-relay.dll'
        if (-not (Test-Path $RelayDll)) { return }
        $script:Agent = Start-LocalAgent -Kind $_
        $script:RelayDir = Join-Path ([IO.Path]::GetTempPath()) ('qg-relay-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
        $script:Relay = Start-Process dotnet -PassThru -RedirectStandardOutput "$($Agent.Directory)/relay.out" -RedirectStandardError "$($Agent.Directory)/relay.err" `
            -ArgumentList $RelayDll, "--Relay:RuntimeDirectory=$RelayDir", "--Relay:Vms:pester-vm:Agent=$($Agent.Socket)"
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not (Test-Path "$RelayDir/pester-vm.sock") -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        $script:SavedRelayDir = $env:QEMUGUEST_RELAY_DIR
        $env:QEMUGUEST_RELAY_DIR = $RelayDir
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ('qg-copy-' + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path "$T/local/tree/sub", "$T/guest"
    }

    AfterAll {
        if (-not (Test-Path $RelayDll)) { return }
        $env:QEMUGUEST_RELAY_DIR = $SavedRelayDir
        Stop-Process -Id $Relay.Id -ErrorAction SilentlyContinue
        $null = $Relay.WaitForExit(10000)
        $script:Agent | Stop-LocalAgent
        Remove-Item -Recurse -Force $T, $RelayDir -ErrorAction SilentlyContinue
    }

    It 'copies a folder in and out and runs a command, by VM name' -Skip:(-not (Test-Path $RelayDll)) {
        Set-Content "$T/local/tree/a.txt" 'one'
        [IO.File]::WriteAllBytes("$T/local/tree/sub/b.bin", [byte[]](1..200))
        $up = Copy-VMGuestFile -VMName pester-vm -LocalToGuest -Source "$T/local/tree" -Destination "$T/guest/tree" -Recurse -Verify -PassThru
        @($up | Where-Object Verified).Count | Should -Be 2
        $down = Copy-VMGuestFile -VMName pester-vm -GuestToLocal -Source "$T/guest/tree" -Destination "$T/local/back" -Recurse -Verify -PassThru
        $down.VMName | Select-Object -Unique | Should -Be 'pester-vm'
        (Get-FileHash "$T/local/back/sub/b.bin").Hash | Should -Be (Get-FileHash "$T/local/tree/sub/b.bin").Hash
        $r = Invoke-VMGuestCommand -VMName pester-vm sh -ArgumentList '-c', 'echo relayed; exit 5'
        $r.ExitCode | Should -Be 5
        $r.StdOut | Should -Be "relayed`n"
    }

    It 'with QEMUGUEST_BULK=1 moves a file both ways in checked bulk frames through the relay (our agent; JSON with the stock one), by VM name' -Skip:(-not (Test-Path $RelayDll)) {
        $data = [byte[]]::new(3MB + 777)
        [Random]::new(19).NextBytes($data)
        [IO.File]::WriteAllBytes("$T/local/bulk.bin", $data)
        $before = Get-RelayCounters "$RelayDir/control.sock" 'pester-vm'
        $saved = $env:QEMUGUEST_BULK
        $env:QEMUGUEST_BULK = '1'
        try {
            $null = Copy-VMGuestFile -VMName pester-vm -LocalToGuest -Source "$T/local/bulk.bin" -Destination "$T/guest/bulk.bin" -Force
            $null = Copy-VMGuestFile -VMName pester-vm -GuestToLocal -Source "$T/guest/bulk.bin" -Destination "$T/local/bulk-back.bin" -Force
        }
        finally { $env:QEMUGUEST_BULK = $saved }
        (Get-FileHash "$T/guest/bulk.bin").Hash | Should -Be (Get-FileHash "$T/local/bulk.bin").Hash
        (Get-FileHash "$T/local/bulk-back.bin").Hash | Should -Be (Get-FileHash "$T/local/bulk.bin").Hash
        $after = Get-RelayCounters "$RelayDir/control.sock" 'pester-vm'
        # 1 MiB frames: four each way (every turn but a file's last is whole MiBs), in at least two
        # turns each way (docs/copy.md, "Fair turns"); the stock agent offers no bulk mode, so none at all.
        $frames = if ($_ -eq 'Ours') { 4 } else { 0 }
        $after.'bulk-frames-to-guest' - $before.'bulk-frames-to-guest' | Should -Be $frames
        $after.'bulk-frames-from-guest' - $before.'bulk-frames-from-guest' | Should -Be $frames
        $after.'bulk-transfers' - $before.'bulk-transfers' | Should -BeGreaterOrEqual ($frames ? 4 : 0)
        $after.'bulk-bytes-to-guest' - $before.'bulk-bytes-to-guest' | Should -Be ($frames ? $data.Length : 0)
        $after.'bulk-rejected' | Should -Be 0
    }

    It 'a guest file named lnk\..\..\..\escaped beside a symlink lnk cannot escape -Destination through the relay either' -Skip:(-not (Test-Path $RelayDll)) {
        # Our agent's listing is refused by the relay itself (path-component names); the stock
        # agent's find output passes the relay, and the cmdlet refuses the name.
        $null = New-Item -ItemType Directory -Path "$T/guest/src", "$T/guest/deep/deeper", "$T/local/out"
        $null = New-Item -ItemType SymbolicLink -Path "$T/guest/src/lnk" -Target "$T/guest/deep/deeper"
        [IO.File]::WriteAllText("$T/guest/src/lnk\..\..\..\escaped", 'planted')
        [IO.File]::WriteAllText("$T/escaped", 'owned')
        $err = $null
        Copy-VMGuestFile -VMName pester-vm -GuestToLocal -Recurse -Force -Source "$T/guest/src" -Destination "$T/local/out/" -ErrorVariable err -ErrorAction SilentlyContinue
        Write-Host "        $($err | ForEach-Object { $_.FullyQualifiedErrorId.Split(',')[0] + ': ' + $_.Exception.Message })"
        "$T/local/escaped" | Should -Not -Exist
        @(Get-ChildItem -Force -Recurse "$T/local/out" -File) | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
    }
}
