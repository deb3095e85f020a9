# bash completion for twofold(1). Verbs and options come from the program
# itself (`twofold --help`, `twofold VERB --help`), persona names from the
# state's device.conf (--state DIR, else $TWOFOLD_STATE, else
# /var/lib/twofold), so a new verb, option or persona needs no edit here.

_twofold_verbs()
{
	"$1" --help 2>/dev/null | awk '
		/^Verbs:/ { v = 1; next }
		v && /^[ \t]*$/ { exit }
		v { print $1 }'
}

_twofold_options()
{
	"$1" "$2" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u
}

_twofold_personas()
{
	local conf="$1/device.conf"
	[ -r "$conf" ] || return 0
	sed -n 's/^[[:space:]]*\[persona[[:space:]]\{1,\}\([^]]*\)\].*/\1/p' "$conf"
}

_twofold()
{
	local cur prev prog state verb="" sub="" i w nonopt=0
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	prog=${COMP_WORDS[0]}
	state=${TWOFOLD_STATE:-/var/lib/twofold}

	# the verb, the words after it and --state, wherever they are
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--state | -s)
			state=${COMP_WORDS[i + 1]}
			((i++))
			continue ;;
		--state=*) state=${w#--state=}; continue ;;
		--) break ;;
		-*) continue ;;
		esac
		if [ -z "$verb" ]; then
			verb=$w
		else
			((nonopt++))
			[ -z "$sub" ] && sub=$w
		fi
	done
	# ~ in a typed path
	state=${state/#\~/$HOME}

	case $prev in
	--state | -s | --storage | --cwd | -C | --key)
		COMPREPLY=($(compgen -d -- "$cur"))
		return ;;
	--suite)
		COMPREPLY=($(compgen -W "intl gm" -- "$cur"))
		return ;;
	--persona)
		COMPREPLY=($(compgen -W "$(_twofold_personas "$state")" -- "$cur"))
		return ;;
	--size | --user | -u | --env | -e | --since)
		return ;;
	esac

	if [ -z "$verb" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--state --json --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_twofold_verbs "$prog")" -- "$cur"))
		fi
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_twofold_options "$prog" "$verb") --help" -- "$cur"))
		return
	fi
	case $verb in
	persona)
		if [ $nonopt -eq 0 ]; then
			COMPREPLY=($(compgen -W "list start stop restart" -- "$cur"))
		elif [ $nonopt -eq 1 ] && [ "$sub" != list ]; then
			COMPREPLY=($(compgen -W "$(_twofold_personas "$state")" -- "$cur"))
		fi ;;
	audit)
		[ $nonopt -eq 0 ] &&
			COMPREPLY=($(compgen -W "show verify" -- "$cur")) ;;
	run)
		# the persona, then the command (a command of the host's
		# PATH is only a guess of what the persona has)
		if [ $nonopt -eq 0 ]; then
			COMPREPLY=($(compgen -W "$(_twofold_personas "$state")" -- "$cur"))
		else
			COMPREPLY=($(compgen -c -- "$cur"))
		fi ;;
	switch | enroll | unlock | lock | wipe)
		[ $nonopt -eq 0 ] &&
			COMPREPLY=($(compgen -W "$(_twofold_personas "$state")" -- "$cur")) ;;
	help)
		[ $nonopt -eq 0 ] &&
			COMPREPLY=($(compgen -W "$(_twofold_verbs "$prog")" -- "$cur")) ;;
	esac
}
complete -F _twofold twofold
